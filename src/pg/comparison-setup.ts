// Everything an incremental comparison needs before its digests stream, in ONE message per side: on the target
// the candidate tables' locks, then (after them, so no writer is left whose rows the mark could miss) the mark
// with their definitions, the newest watermarks left there, each column's send function and the staging; on the
// source the mark and the send functions. Through a link each message is a round trip, so this is one, not six.

import type pg from 'pg';
import { runBatch } from './batch.js';
import { latestWatermarkFrom, latestWatermarksStatement, serverMarkFrom, serverMarkStatement, type DefinitionsOf, type ServerMark } from './change-marks.js';
import { lockTablesStatement } from './ddl.js';
import { stagingFrom, stagingStatements, type Staging } from './multi-diff.js';
import { sendFunctionsFrom, sendFunctionsStatement, type DiffTableSpec, type SendFunctions, type TableRef } from './row-digest-sql.js';

export interface ComparisonSetupInput {
  /** Quoted names of the tables to lock SHARE ROW EXCLUSIVE on the target (writers wait, readers do not). */
  lock: readonly string[];
  refs: readonly TableRef[];
  specs: readonly DiffTableSpec[];
  /**
   * Read each side's mark with these tables' definitions, and the newest watermark a committed run from this
   * source left on the target (the caller knows its history table is readable); undefined: neither.
   */
  marksOf?: DefinitionsOf | undefined;
}

export interface ComparisonSetup {
  staging: Staging;
  sendFunctions: { source: SendFunctions; target: SendFunctions };
  marks: { source: ServerMark; target: ServerMark } | undefined;
  /** With marks: the newest watermark of a committed run from this source into this target, as recorded (unjudged). */
  lastWatermark: { syncId: string; watermark: unknown } | undefined;
}

/** Both sides' messages, in parallel. A failing statement fails its side's message (and so the run): the lock's timeout, typically. */
export async function setUpComparison(source: pg.ClientBase, target: pg.ClientBase, input: ComparisonSetupInput): Promise<ComparisonSetup> {
  const marks = input.marksOf ? [serverMarkStatement(input.marksOf)] : [];
  const sends = sendFunctionsStatement(input.refs);
  const staging = stagingStatements(input.specs);
  const watermarks = input.marksOf ? [latestWatermarksStatement()] : [];
  const [onSource, onTarget] = await Promise.all([
    runBatch(source, [...marks, sends]),
    runBatch(target, [...lockTablesStatement(input.lock, 'SHARE ROW EXCLUSIVE'), ...marks, ...watermarks, sends, ...staging]),
  ]);
  const locks = input.lock.length > 0 ? 1 : 0;
  const sendsAt = locks + marks.length + watermarks.length;
  const sourceMark = input.marksOf ? serverMarkFrom(onSource[0]) : undefined;
  return {
    staging: stagingFrom(input.specs, onTarget.slice(sendsAt + 1)),
    sendFunctions: { source: sendFunctionsFrom(onSource[marks.length]), target: sendFunctionsFrom(onTarget[sendsAt]) },
    marks: sourceMark ? { source: sourceMark, target: serverMarkFrom(onTarget[locks]) } : undefined,
    lastWatermark: sourceMark ? latestWatermarkFrom(onTarget[locks + marks.length], sourceMark.identity) : undefined,
  };
}
