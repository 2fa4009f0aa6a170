// The checks before COMMIT: row counts always, every row's digest on request; any difference rolls back.

import { VerificationError } from '../errors.js';
import type { SyncPlan, TableComparison, TablePlan, TableResult } from '../types.js';
import { compareTable, specFromPlan } from './compare.js';
import type { Session } from './connections.js';
import type { ProgressTracker } from './progress-tracker.js';
import { throwIfAborted } from './refusals.js';
import type { Stalled } from '../pg/stall-watch.js';

/** Source snapshot rows = rows streamed = target rows, per table; the error names the first that differs. */
export function countMismatchError(plan: SyncPlan, results: readonly TableResult[]): VerificationError | undefined {
  const mismatches: { table: string; text: string }[] = [];
  for (const table of plan.tables) {
    const result = results.find((r) => r.table === table.name);
    if (!result) continue;
    const copiedOk = result.mode === 'incremental' || result.copiedRows === table.sourceRows;
    if (result.targetRows !== table.sourceRows || !copiedOk) {
      mismatches.push({ table: `${table.schema}.${table.name}`, text: `${table.schema}.${table.name}: source ${table.sourceRows}, copied ${result.copiedRows}, target ${result.targetRows}` });
    }
  }
  const first = mismatches[0];
  if (!first) return undefined;
  return new VerificationError(
    `row counts differ after copying (${first.text}${mismatches.length > 1 ? ` and ${mismatches.length - 1} more` : ''}); the target was rolled back`,
    { table: first.table, details: { mismatches: mismatches.map((m) => m.text) } },
  );
}

/** Puts the checksum comparison's differences into one line and the error's details. */
export function checksumError(differences: TableComparison[]): VerificationError {
  const first = differences[0];
  const parts = first ? [
    first.onlyOnSource.count ? `${first.onlyOnSource.count} missing on the target (e.g. ${first.onlyOnSource.keys[0]})` : '',
    first.onlyOnTarget.count ? `${first.onlyOnTarget.count} extra on the target (e.g. ${first.onlyOnTarget.keys[0]})` : '',
    first.differing.count ? `${first.differing.count} differing (e.g. ${first.differing.keys[0]})` : '',
    first.method === 'aggregate' ? 'contents differ' : '',
  ].filter(Boolean).join(', ') : '';
  return new VerificationError(
    `row contents differ after copying: ${first?.table ?? '?'} has ${parts}${differences.length > 1 ? `, and ${differences.length - 1} more table(s) differ` : ''}; the target was rolled back`,
    { table: first?.table, details: { differences } },
  );
}

export interface CompareTablesOptions {
  sampleLimit: number;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  tracker: ProgressTracker;
  onTable: (qualified: string) => void;
  onResult: (result: TableComparison) => void;
  onStall: (stall: Stalled) => Promise<void>;
}

/** Compares every planned table's rows, source snapshot against the target's uncommitted state. */
export async function compareTables(session: Session, tables: readonly TablePlan[], options: CompareTablesOptions): Promise<void> {
  // Both transactions pinned the text output settings when they began, so text digests agree across servers.
  for (const table of tables) {
    throwIfAborted(options.signal);
    options.onTable(`${table.schema}.${table.name}`);
    options.tracker.startTable(table.name, table.sourceRows);
    const result = await compareTable(session.source, session.target, specFromPlan(table), {
      sampleLimit: options.sampleLimit,
      onProgress: (compared) => options.tracker.tableProgress(compared, 0),
      stallTimeoutMs: options.stallTimeoutMs,
      onStall: (stall) => void options.onStall(stall),
      guard: (work) => session.guard(work),
    });
    options.tracker.endTable(result.sourceRows, 0);
    options.onResult(result);
  }
}
