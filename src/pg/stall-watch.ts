// Notices a stall: nothing moving on a side for longer than allowed. One watch, one error shape, for copies,
// digest streams, comparisons and server probes.
//
// TCP keepalives do not help here: a frozen server, a stuck pooler or a half-dead NAT path still ACKs for minutes.

export type Side = 'source' | 'target';

/** A side stopped: `data` (a stream stopped moving) or `answers` (the server stopped answering a probe). */
export class Stalled extends Error {
  constructor(readonly side: Side, readonly kind: 'data' | 'answers', readonly idleMs: number) {
    super(`the ${side} ${kind === 'answers' ? 'stopped answering' : `stopped ${side === 'source' ? 'sending' : 'reading'} data`} for ${Math.round(idleMs / 1000)} s`);
    this.name = 'Stalled';
  }
}

/**
 * Call `touch` whenever something moves; `onStall` fires once when nothing moved for `timeoutMs` (0: never).
 * Checks a few times per timeout, never more often than every 100 ms nor less than every second.
 */
export class StallWatch {
  private last = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(timeoutMs: number, onStall: (idleMs: number) => void) {
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => {
      const idle = Date.now() - this.last;
      if (this.fired || idle < timeoutMs) return;
      this.fired = true;
      this.stop();
      onStall(idle);
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
