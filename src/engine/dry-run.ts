// plan(): what a sync would do, read from both databases without writing anything anywhere.

import { beginReadOnly } from '../pg/target-statements.js';
import type { SyncPlan } from './plan.js';
import { asSyncError, cancelOnAbort, openSession, readPlan, type ConnectionOptions } from './session.js';

/** Returns the plan a sync would follow (order, counts, columns, formats, indexes, sequences, warnings). Read-only. */
export async function plan(options: ConnectionOptions): Promise<SyncPlan> {
  const session = await openSession(options);
  const stopCancelling = cancelOnAbort(options, session);
  try {
    await beginReadOnly(session.target);
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
