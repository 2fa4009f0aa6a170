// A TCP proxy on loopback that behaves like a long, narrow link: a one-way delay and a rate limit in each direction.
//
// The model is a bottleneck link followed by a wire: a chunk read at time t starts serialising at
// max(t, the moment the previous chunk finished), takes bytes / rate to serialise, and arrives `delayMs` after
// that. So the delay is latency, not a turn: many chunks are in flight at once and a bulk transfer runs at the
// rate, while a request that waits for its answer pays 2 × delayMs. The kernel's netem would do the same but is
// not available where the benchmark runs.
//
// Not modelled: TCP slow start and loss (the link behaves like a TCP connection whose window already covers the
// bandwidth-delay product), and header overhead (the rate counts payload bytes). The TCP handshake is: the first
// byte a client sends leaves one round trip after it connected, as it would after SYN / SYN-ACK.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LinkOptions {
  /** Where the server really listens (on 127.0.0.1 unless `upstreamHost` says otherwise). */
  upstreamPort: number;
  upstreamHost?: string;
  /** Port to listen on, on 127.0.0.1; default: one the kernel picks. */
  listenPort?: number;
  /** One-way delay in each direction; default 25 ms. */
  delayMs?: number;
  /** Rate of each direction, in 10^6 bits per second of payload; default 100. */
  mbitPerSecond?: number;
  /**
   * Bytes read from one side but not yet taken by the other (in the link, or in the receiving socket's buffer)
   * above which the proxy stops reading that side; default max(4 MiB, 4 × the bandwidth-delay product).
   */
  maxQueuedBytes?: number;
}

export interface LinkStats {
  /** Connections accepted so far. */
  connections: number;
  /** Payload bytes from clients to the server. */
  bytesToServer: number;
  /** Payload bytes from the server to clients. */
  bytesToClient: number;
  /** The most bytes ever queued in one direction of one connection (what back-pressure bounds). */
  peakQueuedBytes: number;
}

export interface LinkProxy {
  readonly port: number;
  readonly delayMs: number;
  readonly mbitPerSecond: number;
  /** Counters since the proxy started; take two and subtract to get one run's. */
  stats(): LinkStats;
  /** Stops listening and drops every connection at once. */
  close(): Promise<void>;
}

export const DEFAULT_LINK_DELAY_MS = 25;
export const DEFAULT_LINK_MBIT = 100;

/** Chunks are cut to this size so the receiver gets data as it is serialised, not 64 KiB at a time. */
const SLICE_BYTES = 16 * 1024;

interface InFlight {
  /** undefined: the sender's FIN, delivered as end() after everything before it. */
  chunk: Buffer | undefined;
  arrivesAt: number;
}

interface Counters {
  bytes: number;
  peakQueuedBytes: number;
}

/** One direction of one connection: reads `from`, delivers to `to` on the link's schedule, in order. */
class LinkDirection {
  private readonly inFlight: InFlight[] = [];
  private head = 0;
  /** When the bottleneck finishes serialising what it already has (performance.now() milliseconds). */
  private linkFreeAt: number;
  private queuedBytes = 0;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delayMs: number,
    private readonly bytesPerMs: number,
    private readonly maxQueuedBytes: number,
    private readonly counters: Counters,
    firstByteNotBefore: number,
  ) {
    this.linkFreeAt = firstByteNotBefore;
    from.on('data', (chunk: Buffer) => this.accept(chunk));
    from.on('end', () => this.push(undefined, 0));
    to.on('drain', () => this.resumeIfRoom());
  }

  private push(chunk: Buffer | undefined, bytes: number): void {
    const start = Math.max(performance.now(), this.linkFreeAt);
    this.linkFreeAt = start + bytes / this.bytesPerMs;
    this.inFlight.push({ chunk, arrivesAt: this.linkFreeAt + this.delayMs });
    this.schedule();
  }

  private accept(chunk: Buffer): void {
    this.counters.bytes += chunk.length;
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const slice = chunk.subarray(offset, offset + SLICE_BYTES);
      this.push(slice, slice.length);
    }
    this.queuedBytes += chunk.length;
    const queued = this.queuedBytes + this.to.writableLength;
    this.counters.peakQueuedBytes = Math.max(this.counters.peakQueuedBytes, queued);
    if (queued > this.maxQueuedBytes && !this.paused) {
      this.paused = true;
      this.from.pause();
    }
  }

  private schedule(): void {
    if (this.timer || this.head >= this.inFlight.length) return;
    const next = this.inFlight[this.head];
    if (!next) return;
    // Timers take whole milliseconds and may fire up to one early against performance.now(); deliver() checks.
    const wait = Math.max(0, Math.ceil(next.arrivesAt - performance.now()));
    this.timer = setTimeout(() => this.deliver(), wait);
  }

  private deliver(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.inFlight.length) {
      const next = this.inFlight[this.head];
      if (!next || next.arrivesAt > now) break;
      this.head++;
      if (this.to.destroyed) continue;
      if (next.chunk === undefined) {
        this.to.end();
      } else {
        this.queuedBytes -= next.chunk.length;
        this.to.write(next.chunk);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.inFlight.length) {
      this.inFlight.splice(0, this.head);
      this.head = 0;
    }
    this.resumeIfRoom();
    this.schedule();
  }

  private resumeIfRoom(): void {
    if (this.paused && this.queuedBytes + this.to.writableLength <= this.maxQueuedBytes / 2) {
      this.paused = false;
      this.from.resume();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight.length = 0;
    this.head = 0;
  }
}

/** Starts the proxy; resolves once it listens. */
export async function startLinkProxy(options: LinkOptions): Promise<LinkProxy> {
  const delayMs = options.delayMs ?? DEFAULT_LINK_DELAY_MS;
  const mbitPerSecond = options.mbitPerSecond ?? DEFAULT_LINK_MBIT;
  if (!(delayMs >= 0) || !(mbitPerSecond > 0)) throw new Error(`a link needs a delay ≥ 0 and a rate > 0 (got ${delayMs} ms, ${mbitPerSecond} Mbit/s)`);
  const bytesPerMs = (mbitPerSecond * 1e6) / 8 / 1000;
  const maxQueuedBytes = options.maxQueuedBytes ?? Math.max(4 * 1024 * 1024, Math.ceil(4 * bytesPerMs * delayMs));
  const toServer: Counters = { bytes: 0, peakQueuedBytes: 0 };
  const toClient: Counters = { bytes: 0, peakQueuedBytes: 0 };
  let connections = 0;
  const open = new Set<{ client: Socket; server: Socket; directions: LinkDirection[] }>();

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    connections++;
    const upstream = connect({ host: options.upstreamHost ?? '127.0.0.1', port: options.upstreamPort, allowHalfOpen: true, noDelay: true });
    const accepted = performance.now();
    const entry = {
      client,
      server: upstream,
      directions: [
        // The client thinks it is connected already; its first byte can reach the server only after the handshake's round trip.
        new LinkDirection(client, upstream, delayMs, bytesPerMs, maxQueuedBytes, toServer, accepted + 2 * delayMs),
        new LinkDirection(upstream, client, delayMs, bytesPerMs, maxQueuedBytes, toClient, accepted),
      ],
    };
    open.add(entry);
    let closed = 0;
    const onClose = () => {
      if (++closed < 2) return;
      for (const direction of entry.directions) direction.stop();
      open.delete(entry);
    };
    // A reset or error on one side is passed on at once (a real link would carry it a delay later; nothing here
    // depends on that), and each side's close is counted so the connection's timers stop with it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', (hadError) => { if (hadError) upstream.destroy(); onClose(); });
    upstream.on('close', (hadError) => { if (hadError) client.destroy(); onClose(); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the link proxy has no address');

  return {
    port: address.port,
    delayMs,
    mbitPerSecond,
    stats: () => ({
      connections,
      bytesToServer: toServer.bytes,
      bytesToClient: toClient.bytes,
      peakQueuedBytes: Math.max(toServer.peakQueuedBytes, toClient.peakQueuedBytes),
    }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const entry of open) {
        for (const direction of entry.directions) direction.stop();
        entry.client.destroy();
        entry.server.destroy();
      }
      open.clear();
    }),
  };
}
