// A host that accepts TCP connections and never answers: what a firewall dropping packets looks like to a client.

import { createServer, type Socket } from 'node:net';
import { freePort } from './cluster.js';

export interface SilentHost {
  port: number;
  close(): void;
}

export async function startSilentHost(): Promise<SilentHost> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => { sockets.push(socket); });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
