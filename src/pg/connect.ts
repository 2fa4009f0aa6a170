// Opens one PostgreSQL connection from a libpq-style URI, on a clock of our own, and remembers how it ended.

import { Socket } from 'node:net';
import pg from 'pg';
import { containerStream } from './docker-transport.js';
import { connectionErrorFor, ConnectTimedOut } from './connection-errors.js';
import { isEncryptionRequired, isServerWithoutTls, tlsFor } from './tls.js';
import { parseUri } from './uri.js';

export { describeEndpoint, type Endpoint } from './uri.js';

const APPLICATION_NAME = 'archon-sync';

export interface ConnectOptions {
  /** Which side this is, for messages ("source", "target", "history"). */
  side: string;
  /** How long to wait unless the URI sets connect_timeout (the resolved option; 0 waits forever). */
  connectTimeoutMs: number;
  applicationName?: string | undefined;
}

/** How a connection ended while we still used it: the socket error, if one came first. */
export interface ConnectionLoss {
  error: Error | undefined;
}

const losses = new WeakMap<pg.Client, ConnectionLoss>();

/** A connection the run still needed ended (its socket closed, its backend ended): raised from its own 'end' event. */
export class ConnectionLost extends Error {
  readonly code: string | undefined;
  constructor(readonly side: string, readonly socketError: Error | undefined) {
    super(socketError ? `the ${side} connection was lost: ${socketError.message}` : `Connection terminated: the ${side} connection ended`);
    this.name = 'ConnectionLost';
    this.code = (socketError as { code?: string } | undefined)?.code;
  }
}

/** Set once the connection's own 'end' event fires (after its 'error', if the socket failed). */
export function connectionLoss(client: pg.Client): ConnectionLoss | undefined {
  return losses.get(client);
}

function watchEnd(client: pg.Client): void {
  let last: Error | undefined;
  // A dropped connection surfaces through the query that uses it; without a listener it would crash the process.
  client.on('error', (error) => { last = error; });
  client.on('end', () => { losses.set(client, { error: last }); });
}

/** Races `connect` against our own clock, so a timeout is known as one where it happens. */
async function connectWithin(client: pg.Client, timeoutMs: number): Promise<void> {
  if (timeoutMs <= 0) {
    await client.connect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      destroyConnection(client);
      reject(new ConnectTimedOut(timeoutMs));
    }, timeoutMs);
  });
  const connecting = client.connect();
  // Once our clock has rejected, the driver's own failure (its socket destroyed) is of no interest.
  connecting.catch(() => undefined);
  try {
    await Promise.race([connecting, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens one connection. Fails with ConnectionError (never a password in it) or ConfigurationError. */
export async function connect(uri: string, options: ConnectOptions): Promise<pg.Client> {
  const parsed = parseUri(uri, options.side);
  const { endpoint } = parsed;
  // The URI's connect_timeout wins over the option, as libpq's does over a default.
  const timeout = parsed.connectTimeoutMs === undefined
    ? { ms: options.connectTimeoutMs, from: 'option' as const }
    : { ms: parsed.connectTimeoutMs, from: 'uri' as const };
  // allow starts in clear text, like libpq; prefer starts with TLS and falls back when the server has none.
  // Through a container there is no TLS at all (see checkContainerUse).
  const attempts = endpoint.container !== undefined ? [false]
    : endpoint.sslMode === 'allow' ? [false, true] : endpoint.sslMode === 'prefer' ? [true, false] : [true];
  const { container } = endpoint;
  let lastError: unknown;
  let lastAttemptTls = false;
  for (const attemptTls of attempts) {
    const ssl = tlsFor(parsed, options.side, attemptTls);
    lastAttemptTls = ssl !== false;
    const client = new pg.Client({
      ...parsed.config,
      application_name: options.applicationName ?? APPLICATION_NAME,
      ssl,
      ...(container === undefined ? {} : { stream: () => containerStream({ container, host: endpoint.host, port: endpoint.port }) }),
    });
    try {
      await connectWithin(client, timeout.ms);
      watchEnd(client);
      return client;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      const canRetry = (endpoint.sslMode === 'prefer' && isServerWithoutTls(error)) ||
        (endpoint.sslMode === 'allow' && isEncryptionRequired(error, lastAttemptTls));
      if (!canRetry) break;
    }
  }
  throw connectionErrorFor(lastError, endpoint, options.side, { timeout, attemptedTls: lastAttemptTls });
}

/**
 * Ends the session without waiting for the server to close its side (a round trip on a long link): resolves once
 * Terminate is handed to the kernel, and from then on the socket does not keep the process alive. Never rejects.
 */
export function endConnection(client: pg.Client): Promise<void> {
  const ended = client.end().then(() => undefined, () => undefined);
  const stream = (client as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  // A socket (TCP or TLS); the docker-exec transport's stream is not one, and is waited for.
  if (!(stream instanceof Socket)) return ended;
  const flushed = new Promise<void>((resolve) => {
    if (stream.writableFinished || stream.destroyed) resolve();
    else stream.once('finish', resolve).once('close', resolve);
  });
  return Promise.race([ended, flushed.then(() => { stream.unref(); })]);
}

/**
 * Closes a connection's socket at once, failing whatever is pending on it. For a server that stopped answering:
 * end() would wait for it; the server rolls back the transaction when it sees the socket gone.
 */
export function destroyConnection(client: pg.Client): void {
  const { connection } = client as unknown as { connection?: { stream?: { destroy(): void } } };
  connection?.stream?.destroy();
}
