// Notices a stalled run: no bytes moving in a stream, or a server that stops answering, for longer than allowed.

import type pg from 'pg';
import { connect, destroyConnection } from '../pg/connect.js';
import type { Side } from './connections.js';

export interface Stall {
  side: Side;
  /** What stopped: `data` (a stream stopped moving) or `answers` (the server stopped answering a probe). */
  kind: 'data' | 'answers';
  seconds: number;
}

/**
 * Watches byte flow: call `touch` whenever data moves; `onStall` fires once when nothing moved for `timeoutMs`.
 * TCP keepalives do not help here: a frozen server, a stuck pooler or a half-dead NAT path still ACKs for minutes.
 */
export class FlowWatch {
  private last = Date.now();
  private readonly timer: NodeJS.Timeout;
  private fired = false;

  constructor(timeoutMs: number, onStall: (idleMs: number) => void) {
    this.timer = setInterval(() => {
      const idle = Date.now() - this.last;
      if (!this.fired && idle >= timeoutMs) {
        this.fired = true;
        onStall(idle);
      }
    }, Math.max(100, Math.min(1_000, timeoutMs / 4)));
    this.timer.unref();
  }

  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Asks a server `SELECT 1` on a connection of its own every few seconds, so a server that froze or whose
 * network path died is noticed while our main connection waits on a long server-side step (an index build,
 * a constraint check), where no bytes are expected for minutes. A probe that cannot connect stays silent:
 * the main connection's own errors say more.
 */
export class ServerProbe {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly side: Side, private readonly timeoutMs: number, private readonly onStall: (stall: Stall) => void) {}

  static start(uri: string, side: Side, timeoutMs: number, connectTimeoutMs: number, onStall: (stall: Stall) => void): ServerProbe {
    const probe = new ServerProbe(side, timeoutMs, onStall);
    void connect(uri, { side, connectTimeoutMs, applicationName: 'archon-sync-probe' }).then((client) => {
      if (probe.stopped) {
        void client.end().catch(() => undefined);
        return;
      }
      probe.client = client;
      probe.schedule();
    }, () => undefined);
    return probe;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.ping(), Math.max(200, Math.min(10_000, this.timeoutMs / 3)));
    this.timer.unref();
  }

  private async ping(): Promise<void> {
    const client = this.client;
    if (!client || this.stopped) return;
    const started = Date.now();
    let overdue: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      client.query('SELECT 1').then(() => 'answered' as const, () => 'failed' as const),
      new Promise<'overdue'>((resolve) => { overdue = setTimeout(() => resolve('overdue'), this.timeoutMs); }),
    ]);
    clearTimeout(overdue);
    if (this.stopped) return;
    // An error (the probe's own connection ended) says nothing about the run's connections: stop probing.
    if (outcome === 'failed') {
      this.stop();
      return;
    }
    if (outcome === 'overdue') {
      this.stop();
      this.onStall({ side: this.side, kind: 'answers', seconds: Math.round((Date.now() - started) / 1000) });
      return;
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      // end() would wait for a frozen server; the socket is ours to close.
      const ending = client.end().catch(() => undefined);
      setTimeout(() => destroyConnection(client), 1_000).unref();
      void ending;
    }
  }
}
