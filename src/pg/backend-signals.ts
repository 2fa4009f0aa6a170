// Ending one of our backends from a fresh connection, best effort, when its own socket is already closed
// (cancelling needs no connection: src/pg/cancel-request.ts).

import type pg from 'pg';
import { connect } from './connect.js';

// A side that cannot be reached within this long is left to end its backend itself once our connection is gone.
const SIGNAL_TIMEOUT_MS = 5_000;

/** Runs one statement about backend `pid` from a fresh, short-lived connection. */
async function signalBackend(uri: string, pid: number, statement: string, timeoutMs: number): Promise<boolean> {
  let client: pg.Client | undefined;
  const gaveUp = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  const attempt = (async () => {
    try {
      client = await connect(uri, { side: 'cancel', connectTimeoutMs: timeoutMs, applicationName: 'archon-sync-cancel' });
      const result = await client.query<{ done: boolean }>(`SELECT ${statement}($1) AS done`, [pid]);
      return result.rows[0]?.done === true;
    } catch {
      // Best effort: a server we cannot reach ends the backend itself once our connection to it is gone.
      return false;
    } finally {
      client?.end().catch(() => undefined);
    }
  })();
  return Promise.race([attempt, gaveUp]);
}

/** Ends backend `pid`, which rolls back its transaction and releases its locks (allowed for our own role's backends). */
export async function terminateBackend(uri: string, pid: number, timeoutMs = SIGNAL_TIMEOUT_MS): Promise<boolean> {
  return signalBackend(uri, pid, 'pg_terminate_backend', timeoutMs);
}
