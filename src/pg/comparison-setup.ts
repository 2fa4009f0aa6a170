// Everything an incremental comparison needs before its digests stream, in ONE message per side: on the target
// the candidate tables' locks, then (after them, so no writer is left whose rows the mark could miss) the mark
// with their definitions, each column's send function and the staging; on the source the mark and the send
// functions. Through a link each message is a round trip, so this is one, not five.

import type pg from 'pg';
import { runBatch } from './batch.js';
import { serverMarkFrom, serverMarkStatement, type DefinitionsOf, type ServerMark } from './change-marks.js';
import { lockTablesStatement } from './ddl.js';
import { stagingFrom, stagingStatements, type Staging } from './multi-diff.js';
import { sendFunctionsFrom, sendFunctionsStatement, type DiffTableSpec, type SendFunctions, type TableRef } from './row-digest-sql.js';

export interface ComparisonSetupInput {
  /** Quoted names of the tables to lock SHARE ROW EXCLUSIVE on the target (writers wait, readers do not). */
  lock: readonly string[];
  refs: readonly TableRef[];
  specs: readonly DiffTableSpec[];
  /** Read each side's mark with these tables' definitions (for the watermark); undefined: no marks. */
  marksOf?: DefinitionsOf | undefined;
}

export interface ComparisonSetup {
  staging: Staging;
  sendFunctions: { source: SendFunctions; target: SendFunctions };
  marks: { source: ServerMark; target: ServerMark } | undefined;
}

/** Both sides' messages, in parallel. A failing statement fails its side's message (and so the run): the lock's timeout, typically. */
export async function setUpComparison(source: pg.ClientBase, target: pg.ClientBase, input: ComparisonSetupInput): Promise<ComparisonSetup> {
  const marks = input.marksOf ? [serverMarkStatement(input.marksOf)] : [];
  const sends = sendFunctionsStatement(input.refs);
  const staging = stagingStatements(input.specs);
  const [onSource, onTarget] = await Promise.all([
    runBatch(source, [...marks, sends]),
    runBatch(target, [...lockTablesStatement(input.lock, 'SHARE ROW EXCLUSIVE'), ...marks, sends, ...staging]),
  ]);
  const locks = input.lock.length > 0 ? 1 : 0;
  return {
    staging: stagingFrom(input.specs, onTarget.slice(locks + marks.length + 1)),
    sendFunctions: { source: sendFunctionsFrom(onSource[marks.length]), target: sendFunctionsFrom(onTarget[locks + marks.length]) },
    marks: input.marksOf ? { source: serverMarkFrom(onSource[0]), target: serverMarkFrom(onTarget[locks]) } : undefined,
  };
}
