// One connection per side beside the run, never waited for: the probe, the history row's live progress and the
// index progress monitor share it, so a run needs one connection per side and works with none to spare.

import type pg from 'pg';
import { phrase, type Phrase } from '../advice.js';
import { connect, destroyConnection, endConnection } from '../pg/connect.js';
import { StallWatch, Stalled, type Side } from '../pg/stall-watch.js';

export const SIDECAR_APPLICATION = 'archon-sync-sidecar';

export interface SidecarOptions {
  uri: string;
  side: Side;
  /** The endpoint as people see it (`host:port/database`), for the warning that names a full pool. */
  label: string;
  connectTimeoutMs: number;
  /** How long the server may leave the probe unanswered (0: no probe). */
  stallTimeoutMs: number;
  /** Whether the side's main connection goes through a pooler; undefined while not known yet. */
  pooled: () => boolean | undefined;
  /** The server stopped answering (a direct connection only). */
  onStall: (stall: Stalled) => void;
  warn: (message: Phrase) => void;
}

/**
 * A side's sidecar. It connects in the background once the main connections are open (so it never takes the last
 * free slot from them) and gives up quietly when it cannot. Its probe asks `SELECT 1` every few seconds while the
 * run waits on a long server-side step. An overdue answer on a direct connection means the server stopped
 * answering; through a pooler it means only that the pool has no free server connection for it (the run holds one
 * of them): the sidecar then warns once and closes, and the run goes on without it.
 */
export class Sidecar {
  private client: pg.Client | undefined;
  private closed = false;
  private watch: StallWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = 0;
  private readonly ready: Promise<pg.Client | undefined>;

  private constructor(private readonly options: SidecarOptions) {
    this.ready = connect(options.uri, { side: `${options.side} (sidecar)`, connectTimeoutMs: options.connectTimeoutMs, applicationName: SIDECAR_APPLICATION })
      .then((client) => {
        if (this.closed) {
          destroyConnection(client);
          return undefined;
        }
        this.client = client;
        // A server connection the pooler ends (query_wait_timeout) ends only the sidecar.
        client.on('error', () => undefined);
        // A lost sidecar says nothing the main connection would not say itself: stop using it, quietly.
        client.on('end', () => this.close());
        this.startProbe();
        return client;
      }, () => undefined);
  }

  static open(options: SidecarOptions): Sidecar {
    return new Sidecar(options);
  }

  /** The connection once open, for a user that waits for it (the index progress monitor); undefined when there is none. */
  connection(): Promise<pg.Client | undefined> {
    return this.ready.then(() => this.client);
  }

  /** Runs one statement if the sidecar is open; never throws. An answer also tells the probe the server is alive. */
  async query(sql: string, values?: unknown[]): Promise<pg.QueryResult | undefined> {
    const client = this.client;
    if (!client || this.closed) return undefined;
    this.pending += 1;
    try {
      const result = await client.query(sql, values);
      this.watch?.touch();
      return result;
    } catch (error) {
      // A server that answers with an error is alive; a statement of a batch that failed left its transaction open.
      if ((error as { code?: unknown }).code !== undefined && typeof (error as { severity?: unknown }).severity === 'string') {
        this.watch?.touch();
        await client.query('ROLLBACK').catch(() => undefined);
      }
      return undefined;
    } finally {
      this.pending -= 1;
    }
  }

  private startProbe(): void {
    const { stallTimeoutMs } = this.options;
    if (stallTimeoutMs <= 0) return;
    this.watch = new StallWatch(stallTimeoutMs, (idleMs) => this.overdue(idleMs));
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    // No ping for a run quicker than this: most nothing-changed runs end before the first.
    this.timer = setTimeout(() => void this.ping(), Math.max(200, Math.min(10_000, this.options.stallTimeoutMs / 3)));
    this.timer.unref();
  }

  private async ping(): Promise<void> {
    // Something else on the sidecar is still waiting for its answer: the watch already times it.
    if (this.pending === 0) await this.query('SELECT 1');
    this.schedule();
  }

  private overdue(idleMs: number): void {
    const { side, label } = this.options;
    const pooled = this.options.pooled();
    this.close();
    if (pooled) {
      this.options.warn(phrase`the ${side}'s pooler at ${label} gave archon-sync's second connection no server connection for ${Math.round(idleMs / 1000)} s (its pool is full; the run holds one of its connections); the run goes on without live progress and stall checks on the ${side}`);
      return;
    }
    this.options.onStall(new Stalled(side, 'answers', idleMs));
  }

  /** Stops the probe and closes the connection without waiting for a server that may not answer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.watch?.stop();
    const client = this.client;
    this.client = undefined;
    if (client) {
      void endConnection(client);
      setTimeout(() => destroyConnection(client), 1_000).unref();
    }
  }
}
