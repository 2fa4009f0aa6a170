// A pass-through TCP proxy on loopback that only counts: what a server sent its clients, with no delay or rate limit.

import { createServer, connect, type Socket } from 'node:net';

export interface ByteMeter {
  readonly port: number;
  /** Payload bytes from the server to clients since the meter started: what the clients read from it. */
  bytesFromServer(): number;
  close(): Promise<void>;
}

/**
 * Counts every byte of the wire protocol a server sends — query results, COPY data, digests, catalog answers — so
 * "bytes read from the source" is what crossed the socket, not what the client chose to report.
 */
export async function startByteMeter(upstreamPort: number): Promise<ByteMeter> {
  let fromServer = 0;
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true, noDelay: true });
    open.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => { fromServer += chunk.length; });
    // pipe() keeps Node's back-pressure: a slow reader slows the server, as without the meter.
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => { open.delete(client); upstream.destroy(); });
    upstream.on('close', () => { open.delete(upstream); client.destroy(); });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the byte meter has no address');
  return {
    port: address.port,
    bytesFromServer: () => fromServer,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of open) socket.destroy();
      open.clear();
    }),
  };
}
