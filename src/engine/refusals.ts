// Reasons to stop before doing anything: another run holds the target, or the caller aborted.

import type pg from 'pg';
import { CancelledError, ValidationError } from '../errors.js';
import { findRunningSyncId } from '../pg/history-statements.js';
import { CANCELLED_MESSAGE } from './failure.js';

/** Refuses to go on while another run holds the target's sync lock, naming it when its history row says which. */
export async function refuseIfAnotherRun(target: pg.ClientBase, lockIsFree: boolean): Promise<void> {
  if (lockIsFree) return;
  // The target transaction may hold nothing yet; reading the history row needs no lock.
  const running = await findRunningSyncId(target).catch(() => undefined);
  throw new ValidationError(
    `another archon-sync run${running ? ` (${running})` : ''} is writing to this target; wait for it to finish and retry`,
    { failure: 'another-run', details: { runningSyncId: running } },
  );
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(CANCELLED_MESSAGE, { failure: 'aborted' });
}
