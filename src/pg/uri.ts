// Reads a libpq-style URI (and libpq's environment variables) into a node-postgres configuration and a printable endpoint.

import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { ConfigurationError } from '../errors.js';
import { isContainerName } from './docker-transport.js';
import { passwordFromFile, type PasswordLookup } from './password-file.js';
import { redact, registerSecret } from './redact.js';

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The code of the error a password lookup fails with when the server asks for one and none was given. */
export const NO_PASSWORD = 'NO_PASSWORD';

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

export interface ParsedUri {
  endpoint: Endpoint;
  config: pg.ClientConfig;
  /** connect_timeout from the URI or PGCONNECT_TIMEOUT, in ms (0: wait forever); undefined when neither sets it. */
  connectTimeoutMs: number | undefined;
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

const SCHEME = 'postgresql://';
const SHORT_SCHEME = 'postgres://';

function hasScheme(uri: string): boolean {
  const lower = uri.slice(0, SCHEME.length).toLowerCase();
  return lower.startsWith(SCHEME) || lower.startsWith(SHORT_SCHEME);
}

/**
 * The port as written in the URI's authority, when one is written. Read here because a port the URL parser
 * rejects (above 65535, not a number) would otherwise surface as its bare "Invalid URL".
 */
function writtenPort(uri: string): string | undefined {
  const afterScheme = uri.slice(uri.indexOf('://') + 3);
  const authority = afterScheme.slice(0, [...'/?#'].map((c) => afterScheme.indexOf(c)).filter((i) => i >= 0).reduce((a, b) => Math.min(a, b), afterScheme.length));
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  // Several hosts (host1:5432,host2:5433) are left to the parser; an IPv6 address ends at its bracket.
  if (hostPort.includes(',')) return undefined;
  const afterHost = hostPort.startsWith('[') ? hostPort.slice(hostPort.indexOf(']') + 1) : hostPort;
  const colon = afterHost.lastIndexOf(':');
  return colon === -1 ? undefined : afterHost.slice(colon + 1);
}

function isPort(text: string): boolean {
  return text.length > 0 && text.length <= 5 && [...text].every((c) => c >= '0' && c <= '9') && Number(text) >= 1 && Number(text) <= 65535;
}

export function parseUri(uri: string, side: string): ParsedUri {
  if (!hasScheme(uri)) {
    throw new ConfigurationError(`the ${side} database URI must start with postgresql:// (got "${redact(uri).slice(0, 60)}")`, { failure: 'invalid-option' });
  }
  const port = writtenPort(uri);
  if (port !== undefined && port !== '' && !isPort(port)) {
    throw new ConfigurationError(`the ${side} database URI has an invalid port "${redact(port)}"; a port is a number from 1 to 65535 (PostgreSQL's default is 5432)`, { failure: 'invalid-option' });
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  const { rest, own } = splitOwnParams(uri);
  try {
    parsed = parseConnectionString(rest);
  } catch {
    throw new ConfigurationError(`the ${side} database URI cannot be parsed; check its form (postgresql://user:password@host:port/database) and percent-encode special characters in the password`, { failure: 'invalid-option' });
  }
  registerSecret(parsed.password);
  const host = parsed.host ?? 'localhost';
  const portNumber = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(portNumber) || portNumber <= 0 || portNumber > 65535) {
    throw new ConfigurationError(`the ${side} database URI has an invalid port "${String(parsed.port)}"; a port is a number from 1 to 65535 (PostgreSQL's default is 5432)`, { failure: 'invalid-option' });
  }
  const socket = host.startsWith('/');
  const user = parsed.user ?? process.env.PGUSER ?? 'postgres';
  const database = parsed.database ?? user;
  const rawMode = own.get('sslmode') ?? process.env.PGSSLMODE ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(rawMode)) {
    throw new ConfigurationError(`the ${side} database URI has an unknown sslmode "${rawMode}" (use one of ${SSL_MODES.join(', ')})`, { failure: 'invalid-option' });
  }
  const sslMode = rawMode as SslMode;
  const container = own.get('container');
  if (container !== undefined) checkContainerUse(container, side, socket, sslMode);
  const sslRootCert = own.get('sslrootcert') ?? process.env.PGSSLROOTCERT;
  const timeoutParam = own.get('connect_timeout') ?? process.env.PGCONNECT_TIMEOUT;
  const connectTimeout = timeoutParam === undefined ? undefined : Number(timeoutParam) * 1000;
  if (connectTimeout !== undefined && !(Number.isFinite(connectTimeout) && connectTimeout >= 0)) {
    throw new ConfigurationError(`the ${side} database URI has an invalid connect_timeout "${timeoutParam}"`, { failure: 'invalid-option' });
  }
  const config: pg.ClientConfig = {
    host,
    port: portNumber,
    user,
    database,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  // libpq reads an empty password as none; so does pg-connection-string's '' for a URI without one.
  const password = parsed.password || process.env.PGPASSWORD || undefined;
  registerSecret(process.env.PGPASSWORD);
  // Like libpq, the password file is read only when the server asks for a password and none was given.
  config.password = password ?? (() => passwordOrExplain({ host, port: portNumber, database, user, socket }));
  if (typeof parsed.options === 'string') config.options = parsed.options;
  return {
    endpoint: {
      host, port: portNumber, database, user, sslMode, socket,
      label: `${socket ? 'socket:' : ''}${host}:${portNumber}/${database}${container === undefined ? '' : ` via docker container ${container}`}`,
      ...(container === undefined ? {} : { container }),
    },
    config,
    // libpq: 0 means wait forever; a positive value below 2 s is raised to 2 s.
    connectTimeoutMs: connectTimeout === undefined || connectTimeout === 0 ? connectTimeout : Math.max(2000, connectTimeout),
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
    throw new ConfigurationError(`the ${side} database URI has container="${container}", which is not a Docker container name or ID (e.g. container=supabase-db)`, { failure: 'invalid-option' });
  }
  if (socket) {
    throw new ConfigurationError(`the ${side} database URI uses a Unix socket directory as host with container=${container}; give PostgreSQL's TCP host and port as seen inside the container, usually localhost:5432`, { failure: 'invalid-option' });
  }
  // The bridge is a pipe through the Docker daemon that never crosses a network, and the server only sees a local
  // client: TLS would protect nothing, so asking for it is a mistake we point out rather than silently ignore.
  if (sslMode === 'require' || sslMode === 'verify-ca' || sslMode === 'verify-full') {
    throw new ConfigurationError(`the ${side} database URI asks for sslmode=${sslMode} with container=${container}, but the docker exec bridge carries no TLS (it never leaves the Docker host); set sslmode=disable in that URI`, { failure: 'invalid-option' });
  }
}

/** The printable description of a URI (no password). Throws ConfigurationError when it is not a URI. */
export function describeEndpoint(uri: string, side = 'given'): Endpoint {
  return parseUri(uri, side).endpoint;
}
