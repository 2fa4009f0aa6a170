// A TCP proxy in front of a test server that rewrites bytes on their way to it: faults injected in transit,
// so tests reach states (a row changed in flight, rows loaded into the wrong table) from outside the product.

import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface Replacement {
  from: string;
  /** Same byte length as `from`: protocol messages carry their length, so only equal-length rewrites stay valid. */
  to: string;
}

// How long a held-back tail waits for the rest of a pattern. Within a stream the next chunk comes sooner; a
// message the client waits on an answer to must go on regardless.
const HOLD_MS = 10;

const PASSWORD_MESSAGE = 0x70; // 'p': password, SASLInitialResponse and SASLResponse

/**
 * Follows the client's startup and authentication messages, which pass untouched and unsplit: PgBouncer drops a
 * client whose startup-phase packet arrives in pieces, and a held-back tail (a SCRAM nonce ending in the first
 * letters of a pattern) would be one. The phase ends at the first typed message that is not a password message.
 */
export class StartupPhase {
  done = false;
  private untyped = true;
  private typeSeen = false;
  private lengthBytes: number[] = [];
  private remaining = 0;

  /** How many leading bytes of `chunk` still belong to the startup phase. */
  consume(chunk: Buffer): number {
    let at = 0;
    while (at < chunk.length && !this.done) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        at += take;
        this.remaining -= take;
      } else if (!this.untyped && !this.typeSeen && this.lengthBytes.length === 0) {
        if (chunk[at] !== PASSWORD_MESSAGE) this.done = true;
        else { this.typeSeen = true; at += 1; }
      } else {
        this.lengthBytes.push(chunk[at] ?? 0);
        at += 1;
        if (this.lengthBytes.length === 4) {
          const length = Buffer.from(this.lengthBytes).readInt32BE(0);
          this.remaining = length - 4;
          this.lengthBytes = [];
          // An SSLRequest (8 bytes) is followed by the real, also untyped, startup message.
          this.untyped = this.untyped && length === 8;
          this.typeSeen = false;
        }
      }
    }
    return at;
  }
}

/**
 * Replaces every occurrence of each pattern, also across chunk boundaries. Only a chunk's tail that could be the
 * start of a pattern is held back for the next chunk, and for a few milliseconds at most.
 */
class Rewriter extends Transform {
  private carry = Buffer.alloc(0);
  private hold: NodeJS.Timeout | undefined;
  private readonly patterns: { from: Buffer; to: Buffer }[];
  private readonly startup = new StartupPhase();

  constructor(replacements: readonly Replacement[], private readonly counter: { replaced: number }) {
    super();
    this.patterns = replacements.map((r) => ({ from: Buffer.from(r.from), to: Buffer.from(r.to) }));
    for (const p of this.patterns) {
      if (p.from.length !== p.to.length) throw new Error(`replacement "${p.from.toString()}" → "${p.to.toString()}" changes the length`);
    }
  }

  /** Length of the longest tail of `data` that is a proper prefix of a pattern. */
  private pendingTail(data: Buffer): number {
    let longest = 0;
    for (const { from } of this.patterns) {
      for (let length = Math.min(from.length - 1, data.length); length > longest; length--) {
        if (data.subarray(data.length - length).equals(from.subarray(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    clearTimeout(this.hold);
    let chunk = input;
    if (!this.startup.done) {
      const passed = this.startup.consume(chunk);
      if (passed > 0) this.push(chunk.subarray(0, passed));
      chunk = chunk.subarray(passed);
    }
    const data = Buffer.concat([this.carry, chunk]);
    for (const { from, to } of this.patterns) {
      for (let at = data.indexOf(from); at !== -1; at = data.indexOf(from, at + from.length)) {
        to.copy(data, at);
        this.counter.replaced += 1;
      }
    }
    const cut = data.length - this.pendingTail(data);
    this.carry = Buffer.from(data.subarray(cut));
    if (this.carry.length > 0) {
      this.hold = setTimeout(() => {
        const held = this.carry;
        this.carry = Buffer.alloc(0);
        this.push(held);
      }, HOLD_MS);
    }
    callback(null, data.subarray(0, cut));
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.hold);
    callback(null, this.carry);
  }
}

export interface TamperProxy {
  port: number;
  /** How many replacements were made so far (a test asserts the fault really happened). */
  readonly replaced: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 and forwards to `upstreamPort`, rewriting client → server bytes. */
export async function startTamperProxy(upstreamPort: number, replacements: readonly Replacement[]): Promise<TamperProxy> {
  const counter = { replaced: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(new Rewriter(replacements, counter)).pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tamper proxy has no port');
  return {
    port: address.port,
    get replaced() { return counter.replaced; },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of the server `uri` names, and the same URI pointing at it. */
export async function tamperWith(uri: string, replacements: readonly Replacement[]): Promise<{ proxy: TamperProxy; uri: string }> {
  const url = new URL(uri);
  const proxy = await startTamperProxy(Number(url.port), replacements);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return { proxy, uri: url.toString() };
}

/**
 * Sends a table's rows into `shadow` (same columns, a name of the same length) instead: the target table ends
 * empty while every row was streamed, so the count check before COMMIT must catch it. FREEZE goes too, since
 * the shadow table was not truncated in the run's transaction.
 */
export function rowsIntoShadowTable(table: string, shadow: string): Replacement[] {
  return [
    { from: `COPY "public"."${table}" (`, to: `COPY "public"."${shadow}" (` },
    { from: ', FREEZE)', to: ')        ' },
  ];
}

