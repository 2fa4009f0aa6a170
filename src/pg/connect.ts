// Opens PostgreSQL connections from libpq-style URIs and turns failures into actionable ConnectionErrors.

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { ConfigurationError, ConnectionError } from '../errors.js';
import { containerStream, isContainerName } from './docker-transport.js';
import { passwordFromFile, type PasswordLookup } from './password-file.js';
import { redact, registerSecret } from './redact.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const APPLICATION_NAME = 'archon-sync';
const NO_PASSWORD = 'NO_PASSWORD';
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where a URI points, without its password: safe to print, log and store. */
export interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  /** `host:port/database`, what people see in plans and messages. */
  label: string;
  sslMode: SslMode;
  /** True when the host is a Unix-socket directory. */
  socket: boolean;
  /** Docker container reached through `docker exec`; host and port are then as seen inside it. */
  container?: string;
}

export interface ConnectOptions {
  /** Which side this is, for messages ("source", "target", "history"). */
  side: string;
  connectTimeoutMs?: number | undefined;
  applicationName?: string | undefined;
}

interface ParsedUri {
  endpoint: Endpoint;
  config: pg.ClientConfig;
  sslRootCert: string | undefined;
  clientCert: string | undefined;
  clientKey: string | undefined;
}

// TLS and timeout parameters are read here with libpq's meaning; pg-connection-string gets the URI without
// them, so it neither applies its own sslmode rules nor prints its deprecation warning on our users' terminals.
// `container` is ours alone: libpq has no such parameter.
const OWN_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'uselibpqcompat', 'container'];

function splitOwnParams(uri: string): { rest: string; own: Map<string, string> } {
  const own = new Map<string, string>();
  const queryAt = uri.indexOf('?');
  if (queryAt === -1) return { rest: uri, own };
  const params = new URLSearchParams(uri.slice(queryAt + 1));
  for (const name of OWN_PARAMS) {
    const value = params.get(name);
    if (value !== null) own.set(name, value);
    params.delete(name);
  }
  const query = params.toString();
  return { rest: `${uri.slice(0, queryAt)}${query ? `?${query}` : ''}`, own };
}

function parseUri(uri: string, side: string): ParsedUri {
  if (!/^postgres(ql)?:\/\//i.test(uri)) {
    throw new ConfigurationError(
      `the ${side} database URI must start with postgresql:// (got "${redact(uri).slice(0, 60)}")`,
    );
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  const { rest, own } = splitOwnParams(uri);
  try {
    parsed = parseConnectionString(rest);
  } catch (error) {
    throw new ConfigurationError(`the ${side} database URI cannot be parsed: ${redact(String(error))}`);
  }
  registerSecret(parsed.password);
  const host = parsed.host ?? 'localhost';
  const port = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ConfigurationError(`the ${side} database URI has an invalid port "${String(parsed.port)}"`);
  }
  const socket = host.startsWith('/');
  const user = parsed.user ?? process.env.PGUSER ?? 'postgres';
  const database = parsed.database ?? user;
  const rawMode = own.get('sslmode') ?? process.env.PGSSLMODE ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(rawMode)) {
    throw new ConfigurationError(`the ${side} database URI has an unknown sslmode "${rawMode}" (use one of ${SSL_MODES.join(', ')})`);
  }
  const sslMode = rawMode as SslMode;
  const container = own.get('container');
  if (container !== undefined) checkContainerUse(container, side, socket, sslMode);
  const sslRootCert = own.get('sslrootcert') ?? process.env.PGSSLROOTCERT;
  const timeoutParam = own.get('connect_timeout') ?? process.env.PGCONNECT_TIMEOUT;
  const connectTimeout = timeoutParam === undefined ? undefined : Number(timeoutParam) * 1000;
  if (connectTimeout !== undefined && !(Number.isFinite(connectTimeout) && connectTimeout >= 0)) {
    throw new ConfigurationError(`the ${side} database URI has an invalid connect_timeout "${timeoutParam}"`);
  }
  const config: pg.ClientConfig = {
    host,
    port,
    user,
    database,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  // libpq reads an empty password as none; so does pg-connection-string's '' for a URI without one.
  const password = parsed.password || process.env.PGPASSWORD || undefined;
  registerSecret(process.env.PGPASSWORD);
  // Like libpq, the password file is read only when the server asks for a password and none was given.
  config.password = password ?? (() => passwordOrExplain({ host, port, database, user, socket }));
  // libpq: 0 means wait forever; a positive value below 2 s is raised to 2 s.
  if (connectTimeout !== undefined && connectTimeout > 0) config.connectionTimeoutMillis = Math.max(2000, connectTimeout);
  if (typeof parsed.options === 'string') config.options = parsed.options;
  return {
    endpoint: {
      host, port, database, user, sslMode, socket,
      label: `${socket ? 'socket:' : ''}${host}:${port}/${database}${container === undefined ? '' : ` via docker container ${container}`}`,
      ...(container === undefined ? {} : { container }),
    },
    config,
    sslRootCert,
    clientCert: own.get('sslcert'),
    clientKey: own.get('sslkey'),
  };
}

async function passwordOrExplain(lookup: PasswordLookup): Promise<string> {
  const password = await passwordFromFile(lookup);
  if (password !== undefined) return password;
  throw Object.assign(new Error('the server asks for a password and none was given'), { code: NO_PASSWORD });
}

/** What container= cannot be combined with; found before anything is contacted. */
function checkContainerUse(container: string, side: string, socket: boolean, sslMode: SslMode): void {
  if (!isContainerName(container)) {
    throw new ConfigurationError(`the ${side} database URI has container="${container}", which is not a Docker container name or ID (e.g. container=supabase-db)`);
  }
  if (socket) {
    throw new ConfigurationError(`the ${side} database URI uses a Unix socket directory as host with container=${container}; give PostgreSQL's TCP host and port as seen inside the container, usually localhost:5432`);
  }
  // The bridge is a pipe through the Docker daemon that never crosses a network, and the server only sees a local
  // client: TLS would protect nothing, so asking for it is a mistake we point out rather than silently ignore.
  if (sslMode === 'require' || sslMode === 'verify-ca' || sslMode === 'verify-full') {
    throw new ConfigurationError(`the ${side} database URI asks for sslmode=${sslMode} with container=${container}, but the docker exec bridge carries no TLS (it never leaves the Docker host); set sslmode=disable in that URI`);
  }
}

/** The printable description of a URI (no password). Throws ConfigurationError when it is not a URI. */
export function describeEndpoint(uri: string, side = 'given'): Endpoint {
  return parseUri(uri, side).endpoint;
}

function readPemFile(path: string, what: string, side: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the ${side} ${what} file ${path}: ${(error as Error).message}`);
  }
}

/**
 * TLS settings with libpq's meaning of each sslmode: require = encrypted but not verified (unless a root
 * certificate is given, then like verify-ca), verify-ca = chain checked, verify-full = chain and host name.
 */
function tlsFor(parsed: ParsedUri, side: string, attemptTls: boolean): pg.ClientConfig['ssl'] {
  const { endpoint, sslRootCert, clientCert, clientKey } = parsed;
  if (endpoint.socket || !attemptTls || endpoint.sslMode === 'disable') return false;
  const clientIdentity = {
    ...(clientCert ? { cert: readPemFile(clientCert, 'sslcert', side) } : {}),
    ...(clientKey ? { key: readPemFile(clientKey, 'sslkey', side) } : {}),
  };
  const ca = sslRootCert ? readPemFile(sslRootCert, 'sslrootcert', side) : undefined;
  const mode = endpoint.sslMode === 'require' && ca !== undefined ? 'verify-ca' : endpoint.sslMode;
  switch (mode) {
    case 'allow':
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false, ...clientIdentity };
    case 'verify-ca':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined, ...clientIdentity };
    default:
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...clientIdentity };
  }
}

function isServerWithoutTls(error: unknown): boolean {
  return error instanceof Error && /does not support SSL/i.test(error.message);
}

/** Opens one connection. Fails with ConnectionError (never a password in it) or ConfigurationError. */
export async function connect(uri: string, options: ConnectOptions): Promise<pg.Client> {
  const parsed = parseUri(uri, options.side);
  const { endpoint } = parsed;
  // allow starts in clear text, like libpq; prefer starts with TLS and falls back when the server has none.
  // Through a container there is no TLS at all (see checkContainerUse).
  const attempts = endpoint.container !== undefined ? [false]
    : endpoint.sslMode === 'allow' ? [false, true] : endpoint.sslMode === 'prefer' ? [true, false] : [true];
  const { container } = endpoint;
  let lastError: unknown;
  for (const attemptTls of attempts) {
    const client = new pg.Client({
      ...parsed.config,
      connectionTimeoutMillis: parsed.config.connectionTimeoutMillis ?? options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: options.applicationName ?? APPLICATION_NAME,
      ssl: tlsFor(parsed, options.side, attemptTls),
      ...(container === undefined ? {} : { stream: () => containerStream({ container, host: endpoint.host, port: endpoint.port }) }),
    });
    try {
      await client.connect();
      // A dropped connection surfaces through the query that uses it; without a listener it would crash the process.
      client.on('error', () => undefined);
      return client;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      const canRetry = (endpoint.sslMode === 'prefer' && isServerWithoutTls(error)) ||
        (endpoint.sslMode === 'allow' && isEncryptionRequired(error));
      if (!canRetry) break;
    }
  }
  throw connectionErrorFor(lastError, endpoint, options.side, parsed.config.connectionTimeoutMillis ?? options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
}

function isEncryptionRequired(error: unknown): boolean {
  return error instanceof Error && /no encryption/i.test(error.message);
}

/** Maps a driver or socket error to one line that says what is wrong and what to do. */
export function connectionErrorFor(error: unknown, endpoint: Endpoint, side: string, timeoutMs: number): ConnectionError {
  const err = error as { code?: string; message?: string; address?: string };
  const where = `${side} ${endpoint.label}`;
  const raw = redact(err.message ?? String(error));
  let message: string;
  switch (err.code) {
    case 'CONNECTION':
      // The docker transport's own ConnectionError: it already names the failure (docker, container, bridge).
      message = `cannot connect to ${where}: ${raw}`;
      break;
    case 'ECONNREFUSED':
      message = `cannot connect to ${where}: connection refused; is PostgreSQL running and listening on that host and port?`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      message = `cannot connect to ${where}: host name "${endpoint.host}" cannot be resolved; check the host in the URI`;
      break;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      message = err.address?.includes(':')
        ? `cannot connect to ${where}: no route to IPv6 address ${err.address}; Supabase's direct db.<ref>.supabase.co host is IPv6-only, use the session pooler URI (port 5432 on the pooler host) instead`
        : `cannot connect to ${where}: network unreachable (${raw})`;
      break;
    case 'ENOENT':
      message = `cannot connect to ${where}: no server socket in ${endpoint.host}; is PostgreSQL running there?`;
      break;
    case '28P01':
      message = `cannot connect to ${where}: password authentication failed for user "${endpoint.user}"; check the password in the URI`;
      break;
    case NO_PASSWORD:
      message = `cannot connect to ${where}: the server asks for a password for user "${endpoint.user}" and none was given; put it in the URI, in PGPASSWORD or in ~/.pgpass (PGPASSFILE), as for psql`;
      break;
    case '3D000':
      message = `cannot connect to ${where}: database "${endpoint.database}" does not exist`;
      break;
    case '28000':
      message = /no encryption/i.test(raw)
        ? `cannot connect to ${where}: the server requires TLS; use sslmode=require (or verify-full with sslrootcert) instead of sslmode=${endpoint.sslMode}`
        : `cannot connect to ${where}: the server rejected the login (${raw})`;
      break;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_UNTRUSTED':
      message = `cannot connect to ${where}: the server's TLS certificate is not trusted; pass the CA that signed it with sslrootcert=/path/to/ca.crt (for Supabase, download its CA certificate from the dashboard)`;
      break;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      message = `cannot connect to ${where}: the TLS certificate does not match host "${endpoint.host}"; use the host name on the certificate or sslmode=verify-ca`;
      break;
    default:
      if (/timeout/i.test(raw)) {
        message = `cannot connect to ${where}: no answer within ${Math.round(timeoutMs / 1000)} s; check the host, port and firewall (connect_timeout in the URI changes the limit)`;
      } else if (isServerWithoutTls(error)) {
        message = `cannot connect to ${where}: the server does not support TLS but sslmode=${endpoint.sslMode} requires it; use sslmode=disable or prefer for this server`;
      } else {
        message = `cannot connect to ${where}: ${raw}`;
      }
  }
  return new ConnectionError(message, { cause: error, details: { side, endpoint: endpoint.label, code: err.code } });
}

/** Runs one statement about backend `pid` from a fresh, short-lived connection (works through poolers and TLS). */
async function signalBackend(uri: string, pid: number, statement: string, timeoutMs: number): Promise<boolean> {
  let client: pg.Client | undefined;
  const gaveUp = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  const attempt = (async () => {
    try {
      client = await connect(uri, { side: 'cancel', connectTimeoutMs: timeoutMs, applicationName: 'archon-sync-cancel' });
      const result = await client.query<{ done: boolean }>(`SELECT ${statement}($1) AS done`, [pid]);
      return result.rows[0]?.done === true;
    } catch {
      // Best effort: a server we cannot reach ends the backend itself once our connection to it is gone.
      return false;
    } finally {
      client?.end().catch(() => undefined);
    }
  })();
  return Promise.race([attempt, gaveUp]);
}

/** Asks the server to cancel whatever `pid` is running. */
export async function cancelBackend(uri: string, pid: number, timeoutMs = 5_000): Promise<boolean> {
  return signalBackend(uri, pid, 'pg_cancel_backend', timeoutMs);
}

/** Ends backend `pid`, which rolls back its transaction and releases its locks (allowed for our own role's backends). */
export async function terminateBackend(uri: string, pid: number, timeoutMs = 5_000): Promise<boolean> {
  return signalBackend(uri, pid, 'pg_terminate_backend', timeoutMs);
}

/**
 * Closes a connection's socket at once, failing whatever is pending on it. For a server that stopped answering:
 * end() would wait for it; the server rolls back the transaction when it sees the socket gone.
 */
export function destroyConnection(client: pg.Client): void {
  const { connection } = client as unknown as { connection?: { stream?: { destroy(): void } } };
  connection?.stream?.destroy();
}
