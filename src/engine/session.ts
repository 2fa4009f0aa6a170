// Opens the source snapshot and the target connection and reads the plan: the part shared by sync, plan and verify.

import type pg from 'pg';
import { ArchonSyncError, CancelledError, ConfigurationError, CopyError, ValidationError } from '../errors.js';
import { findRunningSyncId } from '../pg/history-statements.js';
import { readCatalog, countRows, type Catalog, type PoolerGuess, type ServerInfo } from '../pg/catalog.js';
import { cancelBackend, connect, describeEndpoint, type Endpoint } from '../pg/connect.js';
import { redact } from '../pg/redact.js';
import { backendPid, beginSourceSnapshot, isSharedMemoryExhausted } from '../pg/target-statements.js';
import { buildPlan, type SyncPlan } from './plan.js';
import { ARCHON_TABLES } from './tables.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

export interface ConnectionOptions {
  /** Source database URI (libpq style; sslmode and friends are honoured). */
  source: string;
  /** Target database URI. */
  target: string;
  /** Tables to copy (unqualified names in `schema`); default: the 17 Archon tables. */
  tables?: readonly string[] | undefined;
  /** Schema of the tables; default `public`. */
  schema?: string | undefined;
  /** Connect timeout unless the URI sets connect_timeout; default 10 s. */
  connectTimeoutMs?: number | undefined;
  /** Aborting cancels the server-side work, rolls the target back and rejects with CancelledError. */
  signal?: AbortSignal | undefined;
  /** How long to wait for each target lock (table locks, and catalog reads that need them); default 10 s. */
  lockTimeoutMs?: number | undefined;
}

export interface Session {
  source: pg.Client;
  target: pg.Client;
  sourcePid: number;
  targetPid: number;
  close(): Promise<void>;
}

export function selectedTables(options: ConnectionOptions): string[] {
  const tables = options.tables ?? ARCHON_TABLES;
  if (tables.length === 0) throw new ConfigurationError('no tables selected; name at least one table to copy');
  return [...tables];
}

/** Checks both URIs before any connection, so a typo fails as configuration rather than as a network error. */
export function checkUris(options: ConnectionOptions): void {
  describeEndpoint(options.source, 'source');
  describeEndpoint(options.target, 'target');
}

/** Connects to both sides in parallel; if one fails the other is closed. */
export async function openSession(options: ConnectionOptions): Promise<Session> {
  checkUris(options);
  const [source, target] = await Promise.allSettled([
    connect(options.source, { side: 'source', connectTimeoutMs: options.connectTimeoutMs }),
    connect(options.target, { side: 'target', connectTimeoutMs: options.connectTimeoutMs }),
  ]);
  if (source.status === 'rejected' || target.status === 'rejected') {
    if (source.status === 'fulfilled') await source.value.end().catch(() => undefined);
    if (target.status === 'fulfilled') await target.value.end().catch(() => undefined);
    throw source.status === 'rejected' ? source.reason : (target as PromiseRejectedResult).reason;
  }
  const session: Session = {
    source: source.value,
    target: target.value,
    sourcePid: 0,
    targetPid: 0,
    async close() {
      await Promise.all([source.value.end().catch(() => undefined), target.value.end().catch(() => undefined)]);
    },
  };
  return session;
}

/** Aborting the signal asks both servers to cancel what they are running; returns the function that stops listening. */
export function cancelOnAbort(options: ConnectionOptions, session: Session): () => void {
  const signal = options.signal;
  if (!signal) return () => undefined;
  const onAbort = () => {
    if (session.targetPid) void cancelBackend(options.target, session.targetPid);
    if (session.sourcePid) void cancelBackend(options.source, session.sourcePid);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled; the target was rolled back and is unchanged');
}

async function countSourceRows(source: pg.ClientBase, catalog: Catalog, tables: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const name of tables) {
    const table = catalog.tables.get(name);
    if (table) counts.set(name, await countRows(source, table.sql));
  }
  return counts;
}

/**
 * Guesses what the connection goes through. PgBouncer and Supavisor forward queries, so the only outside signs are
 * the port the server reports (not the one we dialled) and Supabase's pooler host names and ports.
 */
export function guessPooler(endpoint: Endpoint, server: ServerInfo): PoolerGuess {
  const supavisor = /\.pooler\.supabase\.com$/i.test(endpoint.host);
  if (endpoint.port === 6543 && (supavisor || server.port !== 6543)) return 'transaction pooler';
  if (supavisor) return 'session pooler';
  if (!endpoint.socket && server.port !== null && server.port !== endpoint.port) return 'pooler or proxy';
  return 'direct';
}

const TRANSACTION_POOLER_NOTE = 'goes through a transaction-mode pooler: archon-sync keeps all its work in one transaction per connection and uses only SET LOCAL, so it works, but a long copy is better through the session pooler (port 5432) or a direct connection';

/**
 * Starts the source snapshot, reads both catalogs (the target's in whatever transaction the caller opened)
 * and returns the plan. Throws ConfigurationError when source and target are the same database.
 */
export async function readPlan(session: Session, options: ConnectionOptions): Promise<SyncPlan> {
  const schema = options.schema ?? 'public';
  const tables = selectedTables(options);
  await beginSourceSnapshot(session.source);
  session.sourcePid = await backendPid(session.source);
  const [sourceCatalog, targetCatalog] = [
    await readCatalog(session.source, schema, tables),
    await readCatalog(session.target, schema, tables),
  ];
  if (sourceCatalog.server.identity === targetCatalog.server.identity) {
    throw new ConfigurationError(
      `source and target are the same database (${describeEndpoint(options.target).label}); check LOCAL_DATABASE_URI and REMOTE_DATABASE_URI`,
    );
  }
  sourceCatalog.server.pooler = guessPooler(describeEndpoint(options.source), sourceCatalog.server);
  targetCatalog.server.pooler = guessPooler(describeEndpoint(options.target), targetCatalog.server);
  const sourceRows = await countSourceRows(session.source, sourceCatalog, tables);
  const result = buildPlan({ schema, tables, source: sourceCatalog, target: targetCatalog, sourceRows });
  for (const [side, server] of [['source', result.source], ['target', result.target]] as const) {
    if (server.pooler === 'transaction pooler') result.warnings.push(`the ${side} ${TRANSACTION_POOLER_NOTE}`);
  }
  return result;
}

/** Refuses to go on while another run holds the target's sync lock, naming it when its history row says which. */
export async function refuseIfAnotherRun(target: pg.ClientBase, lockIsFree: boolean): Promise<void> {
  if (lockIsFree) return;
  const running = await findRunningSyncId(target).catch(() => undefined);
  throw new ValidationError(
    `another archon-sync run${running ? ` (${running})` : ''} is writing to this target; wait for it to finish and retry`,
    { details: { runningSyncId: running } },
  );
}

const ERROR_HINTS: Record<string, string> = {
  '55P03': 'another session holds a lock on it; retry when it is idle or raise --lock-timeout',
  '53100': 'the target is out of disk space; free space there and retry',
  '53200': 'the target ran out of memory; lower --maintenance-work-mem and retry',
  '53400': 'the target hit a configured limit (temp_file_limit?); raise it or lower --maintenance-work-mem',
  '57P01': 'the target server ended our connection (restart or pg_terminate_backend); nothing was committed, retry',
  '57P02': 'the server crashed; nothing was committed, retry when it is back',
  '57P03': 'the server is starting up or shutting down; retry when it is up',
  '42501': 'the role lacks a privilege it needs; connect as the tables\' owner',
  '23503': 'a row points at a key that does not exist',
};

// Same SQLSTATE as a full disk, but the cause is a container's small /dev/shm under a parallel plan or build.
const SHARED_MEMORY_HINT = 'the server\'s shared memory (/dev/shm; 64 MB in a container by default) is too small for a parallel operation; '
  + 'give the container a larger shm_size (e.g. 1g)';

/** Turns anything thrown during a step into the typed error the caller sees, with a one-line message. */
export function asSyncError(error: unknown, step: string, signal: AbortSignal | undefined, table?: string): ArchonSyncError {
  if (signal?.aborted) return new CancelledError('cancelled; the target was rolled back and is unchanged', { cause: error, table });
  if (error instanceof ArchonSyncError) return error;
  const pgError = error as { code?: string; message?: string; detail?: string; table?: string; constraint?: string; schema?: string };
  const message = redact(pgError.message ?? String(error));
  const lost = /Connection terminated|ECONNRESET|EPIPE|connection.*(closed|lost)|read ECONNRESET/i.test(message);
  const hint = (isSharedMemoryExhausted(error) ? SHARED_MEMORY_HINT : undefined)
    // pgvector's ivfflat build refuses outright when its k-means sample does not fit.
    ?? (/memory required is .*maintenance_work_mem is/.test(message) ? 'raise --maintenance-work-mem above the memory required' : undefined)
    ?? (pgError.code ? ERROR_HINTS[pgError.code] : undefined)
    ?? (lost ? 'the connection to a server was lost; nothing was committed on the target, retry' : undefined);
  const detail = pgError.detail ? ` (${redact(pgError.detail)})` : '';
  const where = table ? ` for ${table}` : '';
  return new CopyError(`${step}${where} failed: ${message}${detail}${hint ? `; ${hint}` : ''}; the target was rolled back`, {
    cause: error,
    table: table ?? pgError.table,
    constraint: pgError.constraint,
    details: { step, sqlstate: pgError.code, detail: pgError.detail ? redact(pgError.detail) : undefined },
  });
}
