// Reasons to stop before doing anything: another run holds the target, or the caller aborted.

import type pg from 'pg';
import { CancelledError, ValidationError } from '../errors.js';
import { syncLockHolders } from '../pg/history-statements.js';
import { BUILDING_MARK } from '../pg/index-progress.js';
import { CANCELLED_MESSAGE } from './failure.js';

const RUN_NAME = /^archon-sync (sync_\w+)$/;

/**
 * Refuses to go on while another run holds the target's sync lock, naming it from the lock holder itself: a sync's
 * main connection carries its sync id in its application_name (a history row marked `running` may be a dead run's).
 */
export async function refuseIfAnotherRun(target: pg.ClientBase, lockIsFree: boolean): Promise<void> {
  if (lockIsFree) return;
  const holder = (await syncLockHolders(target).catch(() => []))[0];
  const name = holder?.application_name ?? '';
  const syncId = RUN_NAME.exec(name)?.[1];
  const since = holder?.since ? `, since ${holder.since.toISOString().replace(/\.\d+Z$/, 'Z')}` : '';
  const who = syncId ? ` (${syncId}, pid ${holder?.pid}${since})`
    : holder && name.startsWith(BUILDING_MARK) ? ` (pid ${holder.pid}, building indexes${since})`
      : holder ? ` (pid ${holder.pid}, ${name || 'no application_name'}${since})` : '';
  throw new ValidationError(
    `another archon-sync run${who} is writing to this target; wait for it to finish and retry`,
    { failure: 'another-run', details: { runningSyncId: syncId, holderPid: holder?.pid } },
  );
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(CANCELLED_MESSAGE, { failure: 'aborted' });
}
