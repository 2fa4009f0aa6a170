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
// message the client waits on an answer to (a SCRAM nonce may end in "C") must go on regardless.
const HOLD_MS = 10;

/**
 * Replaces every occurrence of each pattern, also across chunk boundaries. Only a chunk's tail that could be the
 * start of a pattern is held back for the next chunk, and for a few milliseconds at most.
 */
class Rewriter extends Transform {
  private carry = Buffer.alloc(0);
  private hold: NodeJS.Timeout | undefined;
  private readonly patterns: { from: Buffer; to: Buffer }[];

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

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    clearTimeout(this.hold);
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

