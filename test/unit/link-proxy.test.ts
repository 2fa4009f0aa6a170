// The benchmark's link proxy: a delay that is latency (paid per turn, not per chunk), a rate per direction, order
// and bytes intact, and reading paused while the far side does not take what it is sent.
//
// Only lower bounds on time are asserted (the proxy must never be faster than the link it models); the one upper
// bound, for pipelining, is ten times looser than the difference it detects.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { startLinkProxy, type LinkOptions, type LinkProxy } from '../../bench/link-proxy.js';

const servers: Server[] = [];
const proxies: LinkProxy[] = [];
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  for (const server of servers) server.close();
});

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return address.port;
}

async function proxyTo(upstreamPort: number, options: Omit<LinkOptions, 'upstreamPort'> = {}): Promise<LinkProxy> {
  const proxy = await startLinkProxy({ upstreamPort, ...options });
  proxies.push(proxy);
  return proxy;
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** Resolves with the time `bytes` more bytes have arrived on `socket`, and what they were. */
function receive(socket: Socket, bytes: number): Promise<{ at: number; data: Buffer }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= bytes) {
        socket.off('data', onData);
        resolve({ at: performance.now(), data: Buffer.concat(parts) });
      }
    };
    socket.on('data', onData);
  });
}

const echo = (socket: Socket) => socket.pipe(socket);
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
/** Seconds to serialise `bytes` at `mbit` 10^6 bit/s. */
const serialisation = (bytes: number, mbit: number) => (bytes * 8) / (mbit * 1e6);

for (const link of [{ delayMs: 25, mbit: 100, label: 'the default link (25 ms each way, 100 Mbit/s)' }, { delayMs: 5, mbit: 400, label: 'a custom link (5 ms, 400 Mbit/s)' }]) {
  const options = link.delayMs === 25 ? {} : { delayMs: link.delayMs, mbitPerSecond: link.mbit };

  test(`${link.label}: a request and its answer take at least two one-way delays, each time`, async () => {
    const proxy = await proxyTo(await listen(echo), options);
    assert.equal(proxy.delayMs, link.delayMs);
    assert.equal(proxy.mbitPerSecond, link.mbit);
    const dialled = performance.now();
    const socket = await dial(proxy.port);
    try {
      const turns: number[] = [];
      for (let i = 0; i < 3; i++) {
        // The first turn counts from the dial: the proxy accepted before the client heard it was connected, and the
        // handshake's round trip runs from the accept.
        const sent = i === 0 ? dialled : performance.now();
        const answer = receive(socket, 4);
        socket.write('ping');
        const { at, data } = await answer;
        assert.equal(data.toString(), 'ping');
        turns.push(at - sent);
      }
      // The first turn also pays the TCP handshake's round trip.
      assert.ok((turns[0] ?? 0) >= 4 * link.delayMs, `first turn ${turns[0]} ms`);
      for (const ms of turns.slice(1)) assert.ok(ms >= 2 * link.delayMs, `turn took ${ms} ms`);
    } finally {
      socket.destroy();
    }
  });

  test(`${link.label}: a bulk transfer each way takes at least bytes ÷ rate plus the delay, and arrives intact`, async () => {
    const bytes = link.mbit === 100 ? 2 * 1024 * 1024 : 4 * 1024 * 1024;
    const upload = randomBytes(bytes);
    const download = randomBytes(bytes);
    let serverGot: Promise<{ at: number; data: Buffer }> | undefined;
    let serverSide: Socket | undefined;
    const port = await listen((socket) => {
      serverSide = socket;
      serverGot = receive(socket, bytes);
    });
    const proxy = await proxyTo(port, options);
    const before = proxy.stats();
    const socket = await dial(proxy.port);
    try {
      // Upstream: client → server.
      const started = performance.now();
      socket.write(upload);
      while (!serverGot) await new Promise((r) => setTimeout(r, 5));
      const up = await serverGot;
      assert.equal(md5(up.data), md5(upload), 'bytes to the server changed on the way');
      const upSeconds = (up.at - started) / 1000;
      assert.ok(upSeconds >= serialisation(bytes, link.mbit) + link.delayMs / 1000, `${bytes} bytes up in ${upSeconds} s`);
      // Downstream: server → client, on an idle link.
      const clientGets = receive(socket, bytes);
      const sent = performance.now();
      serverSide?.write(download);
      const down = await clientGets;
      assert.equal(md5(down.data), md5(download), 'bytes to the client changed on the way');
      const downSeconds = (down.at - sent) / 1000;
      assert.ok(downSeconds >= serialisation(bytes, link.mbit) + link.delayMs / 1000, `${bytes} bytes down in ${downSeconds} s`);
      const after = proxy.stats();
      assert.equal(after.bytesToServer - before.bytesToServer, bytes);
      assert.equal(after.bytesToClient - before.bytesToClient, bytes);
      assert.equal(after.connections - before.connections, 1);
    } finally {
      socket.destroy();
    }
  });
}

test('the delay is latency, not a turn per chunk: 40 messages sent 2 ms apart all arrive about one delay after they leave', async () => {
  const proxy = await proxyTo(await listen(echo));
  const socket = await dial(proxy.port);
  try {
    const message = Buffer.alloc(1000, 7);
    const all = receive(socket, 40 * message.length);
    const started = performance.now();
    for (let i = 0; i < 40; i++) {
      socket.write(message);
      await new Promise((r) => setTimeout(r, 2));
    }
    const { at } = await all;
    // One turn per message would take 40 × 50 ms = 2 s; pipelined it is the 80 ms of sending plus one turn (and the handshake).
    assert.ok(at - started < 1000, `40 pipelined messages took ${at - started} ms`);
    assert.ok(at - started >= 4 * 25, `40 pipelined messages took ${at - started} ms`);
  } finally {
    socket.destroy();
  }
});

test('stops reading a sender whose receiver takes nothing, and delivers everything in order once it reads again', async () => {
  const limit = 256 * 1024;
  const bytes = 32 * 1024 * 1024;
  const payload = randomBytes(bytes);
  let got: Promise<{ at: number; data: Buffer }> | undefined;
  const port = await listen((socket) => {
    socket.pause();
    setTimeout(() => {
      got = receive(socket, bytes);
      socket.resume();
    }, 300);
  });
  const proxy = await proxyTo(port, { delayMs: 1, mbitPerSecond: 4000, maxQueuedBytes: limit });
  const socket = await dial(proxy.port);
  try {
    socket.write(payload);
    while (!got) await new Promise((r) => setTimeout(r, 10));
    const { data } = await got;
    assert.equal(md5(data), md5(payload));
    // Above the limit the proxy pauses; what it had read by then is at most one more socket read (64 KiB).
    const peak = proxy.stats().peakQueuedBytes;
    assert.ok(peak <= limit + 64 * 1024, `queued up to ${peak} bytes with a limit of ${limit}`);
  } finally {
    socket.destroy();
  }
});

test('close() drops open connections and stops listening', async () => {
  const proxy = await startLinkProxy({ upstreamPort: await listen(echo) });
  const socket = await dial(proxy.port);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => undefined);
  await proxy.close();
  await closed;
  await assert.rejects(dial(proxy.port));
});
