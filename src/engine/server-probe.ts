// Notices a server that stops answering while the run waits on a long server-side step, where no bytes are expected.

import type pg from 'pg';
import { connect, destroyConnection } from '../pg/connect.js';
import { StallWatch, Stalled, type Side } from '../pg/stall-watch.js';

/**
 * Asks a server `SELECT 1` on a connection of its own every few seconds, so a server that froze or whose
 * network path died is noticed while our main connection waits on a long server-side step (an index build,
 * a constraint check), where no bytes move for minutes. A probe that cannot connect stays silent: the main
 * connection's own errors say more.
 */
export class ServerProbe {
  private client: pg.Client | undefined;
  private watch: StallWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly timeoutMs: number) {}

  static start(uri: string, side: Side, timeoutMs: number, connectTimeoutMs: number, onStall: (stall: Stalled) => void): ServerProbe {
    const probe = new ServerProbe(timeoutMs);
    void connect(uri, { side, connectTimeoutMs, applicationName: 'archon-sync-probe' }).then((client) => {
      if (probe.stopped) {
        void client.end().catch(() => undefined);
        return;
      }
      probe.client = client;
      probe.watch = new StallWatch(timeoutMs, (idleMs) => {
        probe.stop();
        onStall(new Stalled(side, 'answers', idleMs));
      });
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
    try {
      await client.query('SELECT 1');
    } catch {
      // The probe's own connection ended: that says nothing about the run's connections. Stop probing.
      this.stop();
      return;
    }
    this.watch?.touch();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch?.stop();
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
