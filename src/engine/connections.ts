// The two connections of a run (source snapshot, target transaction): opening, cancelling, and letting go.

import type pg from 'pg';
import { terminateBackend } from '../pg/backend-signals.js';
import { keyProcessId, sendCancelRequest } from '../pg/cancel-request.js';
import { connect, connectionLoss, ConnectionLost, destroyConnection, endConnection } from '../pg/connect.js';
import type { Side } from '../pg/stall-watch.js';
import { rollback } from '../pg/transactions.js';
import type { ResolvedOptions } from './options.js';

export type { Side } from '../pg/stall-watch.js';

// How long a side gets to roll back on its own before its socket is closed and its backend ended.
const ROLLBACK_GRACE_MS = 3_000;
// How long an abort waits for the servers to cancel before closing the connections itself.
const CANCEL_GRACE_MS = 3_000;

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/** The source and target connections of one run, and how to let go of them whatever state they are in. */
export class Session {
  sourcePid = 0;
  targetPid = 0;
  private released = false;
  private readonly abandoned = new Set<Side>();
  private closing = false;
  /** Rejects as soon as either connection ends while the run still needs it. */
  readonly lost: Promise<never>;

  private constructor(
    private readonly options: ResolvedOptions,
    readonly source: pg.Client,
    readonly target: pg.Client,
  ) {
    // A driver or stream waiting for rows does not always hear that its connection is gone (a cursor between two
    // fetches); whatever the run awaits is raced against this, so a lost side always ends the step.
    this.lost = new Promise<never>((_, reject) => {
      for (const side of ['source', 'target'] as const) {
        const client = this.client(side);
        client.on('end', () => {
          if (!this.closing) reject(new ConnectionLost(side, connectionLoss(client)?.error));
        });
      }
    });
    this.lost.catch(() => undefined);
  }

  /** The first side whose connection has ended, as its own 'end' event said. */
  lostSide(): Side | undefined {
    if (connectionLoss(this.source)) return 'source';
    if (connectionLoss(this.target)) return 'target';
    return undefined;
  }

  /** The side whose connection ends within `ms` (a FATAL is followed by its connection closing, a moment later). */
  async lostSideWithin(ms: number): Promise<Side | undefined> {
    return this.lostSide() ?? Promise.race([this.lost.catch(() => this.lostSide()), timeout(ms).then(() => undefined)]);
  }

  /** `work`, or the error of whichever connection is lost first. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.lost]);
  }

  /**
   * Connects to both sides in parallel; if one fails the other is closed. `targetName`: the target connection's
   * application_name (a sync's names its run, so a refused run can name the one holding the lock).
   */
  static async open(options: ResolvedOptions, targetName?: string): Promise<Session> {
    const { connectTimeoutMs } = options;
    const [source, target] = await Promise.allSettled([
      connect(options.source, { side: 'source', connectTimeoutMs }),
      connect(options.target, { side: 'target', connectTimeoutMs, applicationName: targetName }),
    ]);
    if (source.status === 'rejected' || target.status === 'rejected') {
      if (source.status === 'fulfilled') await source.value.end().catch(() => undefined);
      if (target.status === 'fulfilled') await target.value.end().catch(() => undefined);
      throw source.status === 'rejected' ? source.reason : (target as PromiseRejectedResult).reason;
    }
    return new Session(options, source.value, target.value);
  }

  uri(side: Side): string {
    return side === 'source' ? this.options.source : this.options.target;
  }

  client(side: Side): pg.Client {
    return side === 'source' ? this.source : this.target;
  }

  pid(side: Side): number {
    return side === 'source' ? this.sourcePid : this.targetPid;
  }

  /**
   * Whether a side goes through a pooler: PgBouncer hands out BackendKeyData of its own, so the key's process id
   * differs from the backend's pid (a Docker port mapping or the docker-exec transport passes the real one).
   * Undefined until the backend's pid is known.
   */
  pooled(side: Side): boolean | undefined {
    const pid = this.pid(side);
    return pid ? keyProcessId(this.client(side)) !== pid : undefined;
  }

  /** The side's connection still works: not lost, not abandoned (for the history row's last write). */
  usable(side: Side): boolean {
    return !connectionLoss(this.client(side)) && !this.abandoned.has(side);
  }

  /** Asks the server (or pooler) to cancel what the side runs, by the protocol's CancelRequest: needs no free slot. */
  cancel(side: Side): Promise<boolean> {
    return sendCancelRequest(this.uri(side), this.client(side));
  }

  /**
   * Gives up on a side at once: closes its socket (failing whatever waits on it) and asks the server to end its
   * backend, which rolls back and frees its locks even while it is busy or no longer reads its socket.
   */
  async abandon(side: Side): Promise<void> {
    this.closing = true;
    this.abandoned.add(side);
    destroyConnection(this.client(side));
    const pid = this.pid(side);
    if (pid) await terminateBackend(this.uri(side), pid);
  }

  /**
   * Ends both transactions without committing. A side that cannot roll back within a few seconds (a cursor
   * still open mid-result, a lost or frozen server) is abandoned, so this always returns, and quickly.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.closing = true;
    await Promise.all((['source', 'target'] as const).map(async (side) => {
      const outcome = await Promise.race([rollback(this.client(side)).then(() => 'done' as const, () => 'failed' as const), timeout(ROLLBACK_GRACE_MS)]);
      if (outcome !== 'done') await this.abandon(side);
    }));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.source, this.target].map((client) =>
      Promise.race([endConnection(client), timeout(ROLLBACK_GRACE_MS).then(() => destroyConnection(client))])));
  }

  /**
   * Aborting `signal` asks both servers to cancel what they run (CancelRequest, so a full server or pool is no
   * obstacle); if the run has not let go after a grace period
   * (a server that does not answer), both sides are abandoned. Returns the function that stops listening.
   */
  cancelOnAbort(signal: AbortSignal | undefined): () => void {
    if (!signal) return () => undefined;
    let force: NodeJS.Timeout | undefined;
    const onAbort = () => {
      for (const side of ['source', 'target'] as const) void this.cancel(side);
      force = setTimeout(() => {
        if (!this.released) for (const side of ['source', 'target'] as const) void this.abandon(side);
      }, CANCEL_GRACE_MS);
      force.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(force);
    };
  }
}
