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

function afterMs(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

export interface CommitResult {
  outcome: CommitOutcome;
  /** The statements sent after COMMIT in its message ran to their end (false: they failed once it had committed). */
  afterDone: boolean;
}

/**
 * Sends `before`, COMMIT and `after` in one message; if it has not returned within `timeoutMs` (0: wait for ever),
 * cancels it with the protocol's CancelRequest. A COMMIT that then returns with the server's warning committed
 * locally without the standby's confirmation (`unconfirmed`); one that does not return throws
 * CommitUnconfirmedError (`commit-unknown`). An error before COMMIT completed (the cancel came before COMMIT itself
 * began) is thrown as is: nothing committed. An error after it (in `after`) is not the run's: `afterDone` is false.
 */
export async function boundedCommit(session: Session, before: readonly string[], timeoutMs: number, targetLabel: string, after: readonly string[] = []): Promise<CommitResult> {
  const client = session.target;
  let warned = false;
  const onNotice = (notice: { code?: string | undefined }) => { if (notice.code === WARNING_SQLSTATE) warned = true; };
  // The replies of a message that fails are lost: COMMIT's command tag, as it arrives, says it committed. The tag
  // of the first statement that ends the transaction: COMMIT of an aborted transaction answers ROLLBACK.
  let ended: string | undefined;
  const onComplete = (message: { text?: string | undefined }) => {
    if (ended === undefined && (message.text === 'COMMIT' || message.text === 'ROLLBACK')) ended = message.text;
  };
  const connection = (client as unknown as { connection: { on(event: 'commandComplete', listener: typeof onComplete): void; off(event: 'commandComplete', listener: typeof onComplete): void } }).connection;
  client.on('notice', onNotice);
  connection.on('commandComplete', onComplete);
  const committing = commit(client, before, after).then(() => {
    if (ended === 'ROLLBACK') throw new Error('the target transaction had been aborted, so COMMIT rolled it back');
    return 'done' as const;
  }, (error: unknown) => {
    if (ended === 'COMMIT') return 'after failed' as const;
    throw error;
  });
  const result = (outcome: 'done' | 'after failed', ifCommitted: CommitOutcome): CommitResult => ({ outcome: ifCommitted, afterDone: outcome === 'done' });
  try {
    const first = timeoutMs <= 0 ? await committing : await Promise.race([committing, afterMs(timeoutMs)]);
    if (first !== 'timeout') return result(first, 'committed');
    await session.cancel('target');
    const second = await Promise.race([committing, afterMs(AFTER_CANCEL_MS)]);
    if (second !== 'timeout') return result(second, warned ? 'unconfirmed' : 'committed');
    committing.catch(() => undefined);
    throw new CommitUnconfirmedError(phrase`COMMIT on the target ${targetLabel} did not return within ${Math.round(timeoutMs / 1000)} s, nor when cancelled (${optionNamed('commitTimeoutMs')}); ${
      ''}whether it committed is unknown: the next run reads it from the server (txid_status) and records it in archon_sync_history`, {
      failure: 'commit-unknown', details: { step: 'commit' },
    });
  } finally {
    client.off('notice', onNotice);
    connection.off('commandComplete', onComplete);
  }
}
