// COMMIT on our own clock: a commit that waits for a synchronous standby that does not answer holds every lock for
// ever (client_connection_check_interval does not apply there), so it is cancelled after a bound and reported as
// what it then is.

import { optionNamed, phrase } from '../advice.js';
import { CommitUnconfirmedError } from '../errors.js';
import { commit } from '../pg/transactions.js';
import type { Session } from './connections.js';

// How long a cancelled COMMIT gets to return before its outcome is called unknown.
const AFTER_CANCEL_MS = 5_000;
// The WARNING a commit cancelled in its wait for the standby ends with ("canceling wait for synchronous
// replication due to user request"; the transaction has already committed locally).
const WARNING_SQLSTATE = '01000';

export type CommitOutcome = 'committed' | 'unconfirmed';

function after(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/**
 * Sends `before` and COMMIT in one message; if it has not returned within `timeoutMs` (0: wait for ever), cancels
 * it with the protocol's CancelRequest. A COMMIT that then returns with the server's warning committed locally
 * without the standby's confirmation (`unconfirmed`); one that does not return throws CommitUnconfirmedError
 * (`commit-unknown`). An error (the cancel came before COMMIT itself began) is thrown as is: nothing committed.
 */
export async function boundedCommit(session: Session, before: readonly string[], timeoutMs: number, targetLabel: string): Promise<CommitOutcome> {
  const client = session.target;
  let warned = false;
  const onNotice = (notice: { code?: string | undefined }) => { if (notice.code === WARNING_SQLSTATE) warned = true; };
  client.on('notice', onNotice);
  const committing = commit(client, before).then(() => 'done' as const);
  try {
    if (timeoutMs <= 0 || (await Promise.race([committing, after(timeoutMs)])) === 'done') return 'committed';
    await session.cancel('target');
    if ((await Promise.race([committing, after(AFTER_CANCEL_MS)])) === 'done') return warned ? 'unconfirmed' : 'committed';
    committing.catch(() => undefined);
    throw new CommitUnconfirmedError(phrase`COMMIT on the target ${targetLabel} did not return within ${Math.round(timeoutMs / 1000)} s, nor when cancelled (${optionNamed('commitTimeoutMs')}); ${
      ''}whether it committed is unknown: the next run reads it from the server (txid_status) and records it in archon_sync_history`, {
      failure: 'commit-unknown', details: { step: 'commit' },
    });
  } finally {
    client.off('notice', onNotice);
  }
}
