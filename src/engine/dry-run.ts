// plan(): what a sync would do, read from both databases without changing anything anywhere.

import { historyTableExists } from '../pg/history-statements.js';
import { beginReadOnly, trySkipTriggersWithReplicaRole } from '../pg/target-statements.js';
import { Session, selectedTables, type ConnectionOptions } from './connections.js';
import { DEFAULTS } from './defaults.js';
import { asSyncError } from './failure.js';
import { DEFAULT_FULL_COPY_SHARE, incrementalCandidates, loadsIncrementally, prepareDiff, type SyncMode, type TablePreview } from './incremental.js';
import type { SyncPlan } from './plan.js';
import { readPlan } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';
import { changesSinceLastRun } from './watermark.js';
import type { BackupOptions } from './backup/options.js';
import { planBackupEstimate } from './backup/plan-estimate.js';

export interface PlanOptions extends ConnectionOptions {
  /**
   * With `auto` or `incremental`, also compare every row's digest (as a sync would, in a transaction that is
   * rolled back, its work in temporary tables) and say per table which mode a sync would use and how many rows
   * it would insert, update and delete. Default: no preview (the plan alone is cheap).
   */
  preview?: SyncMode | undefined;
  /** As SyncOptions.fullCopyShare. */
  fullCopyShare?: number | undefined;
  /** As SyncOptions.backup: the plan says what keeping the old rows would take (`backup` in the result). */
  backup?: BackupOptions | false | undefined;
}

export type { TablePreview } from './incremental.js';

/** Returns the plan a sync would follow (order, counts, columns, formats, indexes, sequences, warnings). Changes nothing. */
export async function plan(options: PlanOptions): Promise<SyncPlan> {
  const tables = selectedTables(options);
  const session = await Session.open(options);
  const stopCancelling = session.cancelOnAbort(options.signal);
  try {
    const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs;
    // A running sync holds exclusive locks the catalog reads would queue behind: say so at once instead.
    await refuseIfAnotherRun(session.target, await beginReadOnly(session.target, { lockTimeoutMs, lockTables: [], readOnly: options.preview === undefined }));
    const result = await readPlan(session, options, tables);
    if (options.preview) result.preview = await preview(session, result, options.preview, options);
    result.backup = await planBackupEstimate(session.target, result, options.backup);
    return result;
  } catch (error) {
    throw asSyncError(error, { step: 'planning', signal: options.signal });
  } finally {
    stopCancelling();
    await session.release();
    await session.close();
  }
}

/** The modes and row changes a sync would have, from the same digests and rules; everything is rolled back after. */
async function preview(session: Session, thePlan: SyncPlan, mode: SyncMode, options: PlanOptions): Promise<Record<string, TablePreview>> {
  const replica = await trySkipTriggersWithReplicaRole(session.target);
  const { candidates, fullBecause } = await incrementalCandidates(session.target, thePlan, mode, replica);
  const out: Record<string, TablePreview> = {};
  for (const [table, reason] of fullBecause) out[table.name] = { mode: 'full', reason };
  if (candidates.length === 0) return out;
  // As a sync would: rows neither side wrote since the last committed run need no digest.
  const { trusted } = (await historyTableExists(session.target)) ? await changesSinceLastRun(session, thePlan, candidates) : {};
  const differ = await prepareDiff(session, candidates, trusted?.filters);
  const choice = { mode, fullCopyShare: options.fullCopyShare ?? DEFAULT_FULL_COPY_SHARE };
  for (const table of candidates) {
    throwIfAborted(options.signal);
    const diff = await differ.diff(session, table, { signal: options.signal, stallTimeoutMs: DEFAULTS.stallTimeoutMs, onRows: () => undefined });
    const counts = { inserts: diff.inserts, updates: diff.updates, deletes: diff.deletes };
    out[table.name] = loadsIncrementally(choice, diff)
      ? { mode: 'incremental', ...counts }
      : { mode: 'full', reason: `more than ${Math.round(choice.fullCopyShare * 100)} % of its rows changed`, ...counts };
  }
  return out;
}
