// plan(): what a sync would do, read from both databases without writing anything anywhere.

import { beginReadOnly } from '../pg/target-statements.js';
import { Session, selectedTables, type ConnectionOptions } from './connections.js';
import { DEFAULTS } from './defaults.js';
import { asSyncError } from './failure.js';
import type { SyncPlan } from './plan.js';
import { readPlan } from './read-plan.js';
import { refuseIfAnotherRun } from './refusals.js';

/** Returns the plan a sync would follow (order, counts, columns, formats, indexes, sequences, warnings). Read-only. */
export async function plan(options: ConnectionOptions): Promise<SyncPlan> {
  const tables = selectedTables(options);
  const session = await Session.open(options);
  const stopCancelling = session.cancelOnAbort(options.signal);
  try {
    // A running sync holds exclusive locks the catalog reads would queue behind: say so at once instead.
    await refuseIfAnotherRun(session.target, await beginReadOnly(session.target, { lockTimeoutMs: options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs, lockTables: [] }));
    return await readPlan(session, options, tables);
  } catch (error) {
    throw asSyncError(error, { step: 'planning', signal: options.signal });
  } finally {
    stopCancelling();
    await session.release();
    await session.close();
  }
}
