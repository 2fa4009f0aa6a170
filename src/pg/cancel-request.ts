// The protocol's CancelRequest for one of our connections: needs no free connection slot and no login, and a
// pooler (PgBouncer) forwards it to the server connection the client is on.

import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import { containerStream } from './docker-transport.js';
import { parseUri } from './uri.js';

// CancelRequest: length 16, the code 1234 5678, then the BackendKeyData the server (or pooler) gave at login.
const CANCEL_REQUEST_CODE = 80877102;
// A server that does not answer is let go of; the caller abandons the connection after its own grace period.
const CANCEL_TIMEOUT_MS = 5_000;

/** The key a connection was given at login (node-postgres keeps it as processID/secretKey). */
function backendKey(client: pg.Client): { processID: number; secretKey: number } | undefined {
  const { processID, secretKey } = client as unknown as { processID: number | null; secretKey: number | null };
  return processID === null || secretKey === null ? undefined : { processID, secretKey };
}

/** The BackendKeyData process id: the server's pid on a direct connection, the pooler's own number through PgBouncer. */
export function keyProcessId(client: pg.Client): number | undefined {
  return backendKey(client)?.processID;
}

/**
 * Sends a CancelRequest for whatever `client` runs, over a fresh socket to the same endpoint (in clear text, as
 * libpq before version 17 does; the server needs no TLS for it). Resolves true once sent; never throws.
 */
export function sendCancelRequest(uri: string, client: pg.Client, timeoutMs = CANCEL_TIMEOUT_MS): Promise<boolean> {
  const key = backendKey(client);
  if (!key) return Promise.resolve(false);
  let endpoint;
  try {
    endpoint = parseUri(uri, 'cancel').endpoint;
  } catch {
    return Promise.resolve(false);
  }
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  message.writeInt32BE(key.processID, 8);
  message.writeInt32BE(key.secretKey, 12);
  return new Promise((resolve) => {
    let socket: Duplex;
    const { container } = endpoint;
    let sent = false;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(sent), timeoutMs);
    timer.unref();
    const send = () => socket.write(message, (error) => {
      sent = !error;
      // The server closes the socket once it has read the request; closing it ourselves a little later is as good.
      setTimeout(() => done(sent), 200).unref();
    });
    if (container !== undefined) {
      socket = containerStream({ container, host: endpoint.host, port: endpoint.port });
      (socket as unknown as { connect?: (port: number, host: string) => void }).connect?.(endpoint.port, endpoint.host);
      socket.once('connect', send);
    } else {
      const net: Socket = endpoint.socket ? netConnect(`${endpoint.host}/.s.PGSQL.${endpoint.port}`) : netConnect(endpoint.port, endpoint.host);
      socket = net;
      net.once('connect', send);
    }
    socket.on('error', () => done(false));
  });
}
