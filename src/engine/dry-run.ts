// plan(): what a sync would do, read from both databases without writing anything anywhere.

import { beginReadOnly, trySyncSlotShared } from '../pg/target-statements.js';
import type { SyncPlan } from './plan.js';
import { asSyncError, cancelOnAbort, DEFAULT_LOCK_TIMEOUT_MS, openSession, readPlan, refuseIfAnotherRun, type ConnectionOptions } from './session.js';

/** Returns the plan a sync would follow (order, counts, columns, formats, indexes, sequences, warnings). Read-only. */
export async function plan(options: ConnectionOptions): Promise<SyncPlan> {
  const session = await openSession(options);
  const stopCancelling = cancelOnAbort(options, session);
  try {
    await beginReadOnly(session.target, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    // A running sync holds exclusive locks the catalog reads would queue behind: say so at once instead.
    await refuseIfAnotherRun(session.target, await trySyncSlotShared(session.target));
    return await readPlan(session, options);
  } catch (error) {
    throw asSyncError(error, 'planning', options.signal);
  } finally {
    stopCancelling();
    await session.source.query('ROLLBACK').catch(() => undefined);
    await session.target.query('ROLLBACK').catch(() => undefined);
    await session.close();
  }
}
