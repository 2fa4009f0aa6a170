// Turns whatever a step threw (a server error, a lost connection, a stall, an abort) into the typed error the caller
// sees: the cause comes from where the failure happened, the advice from the cause.

import pg from 'pg';
import { optionNamed, phrase, type Phrase } from '../advice.js';
import { ArchonSyncError, CancelledError, CopyError, type FailureCause } from '../errors.js';
import { ConnectionLost } from '../pg/connect.js';
import { redact } from '../pg/redact.js';
import { causeOfServerError } from '../pg/server-errors.js';
import type { LockHolder, LockMode } from '../pg/lock-holders.js';
import type { Side, Stalled } from '../pg/stall-watch.js';

export const CANCELLED_MESSAGE = 'cancelled; the target was rolled back and is unchanged';

// Socket errors that mean the connection is gone, whatever the step was doing with it.
const LOST_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Advice for a cause, worded for any caller (a front end names its own flags for the options). */
const ADVICE: Partial<Record<FailureCause, Phrase>> = {
  'lock-timeout': phrase`another session holds a lock on it; retry when it is idle or raise ${optionNamed('lockTimeoutMs')}`,
  'out-of-disk': phrase`the target is out of disk space; free space there and retry`,
  'shared-memory': phrase`the server's shared memory (/dev/shm; 64 MB in a container by default) is too small for a parallel operation; give the container a larger shm_size (e.g. 1g)`,
  'resource-limit': phrase`the target hit a configured limit (temp_file_limit?); raise it or lower ${optionNamed('maintenanceWorkMem')}`,
  permission: phrase`the role lacks a privilege it needs; connect as the tables' owner`,
  'foreign-key': phrase`a row points at a key that does not exist`,
  'lost-connection': phrase`the connection to a server was lost; nothing was committed on the target, retry`,
};

/** Out of memory: a server that ran out, or an index build that needs more maintenance_work_mem than it may use. */
function memoryAdvice(error: unknown): Phrase {
  return error instanceof pg.DatabaseError && error.code === '54000'
    ? phrase`raise ${optionNamed('maintenanceWorkMem')} above the memory required`
    : phrase`the target ran out of memory; lower ${optionNamed('maintenanceWorkMem')} and retry`;
}

function shutdownAdvice(error: unknown): Phrase {
  const code = error instanceof pg.DatabaseError ? error.code : undefined;
  if (code === '57P02') return phrase`the server crashed; nothing was committed, retry when it is back`;
  if (code === '57P03') return phrase`the server is starting up or shutting down; retry when it is up`;
  return phrase`the server ended our connection (restart or pg_terminate_backend); nothing was committed, retry`;
}

function adviceFor(cause: FailureCause | undefined, error: unknown): Phrase | undefined {
  if (cause === 'out-of-memory') return memoryAdvice(error);
  if (cause === 'server-shutdown') return shutdownAdvice(error);
  return cause ? ADVICE[cause] : undefined;
}

export interface FailureContext {
  /** What the run was doing, in words ("copy", "index rebuild", …). */
  step: string;
  /** The table it was working on, schema-qualified. */
  table?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Set when a watch ended the step: the real reason, which the socket error it caused would hide. */
  stall?: ArchonSyncError | undefined;
  /** A side whose connection has ended, as its own events said. */
  lostSide?: Side | undefined;
  /** Each side's endpoint as people see it, for a message that names where (a full pool). */
  endpoints?: Record<Side, string> | undefined;
  /** What became of the target: `the target was rolled back` unless the step wrote nothing. */
  outcome?: string | undefined;
}

/** Why `error` happened, from the facts its source left: the error's type, its SQLSTATE, its socket code, the session. */
function causeOf(error: unknown, context: FailureContext): FailureCause | undefined {
  if (error instanceof ConnectionLost) return 'lost-connection';
  const server = causeOfServerError(error);
  if (server) return server;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && LOST_SOCKET_CODES.has(code)) return 'lost-connection';
  return context.lostSide ? 'lost-connection' : undefined;
}

/** The typed, one-line error for anything thrown during a step; already-typed errors pass through. */
export function asSyncError(error: unknown, context: FailureContext): ArchonSyncError {
  if (context.stall) return context.stall;
  if (context.signal?.aborted) return new CancelledError(CANCELLED_MESSAGE, { cause: error, table: context.table, failure: 'aborted' });
  if (error instanceof ArchonSyncError) return error;
  const database = error instanceof pg.DatabaseError ? error : undefined;
  const cause = causeOf(error, context);
  const message = redact(error instanceof Error ? error.message : String(error));
  const detail = database?.detail ? ` (${redact(database.detail)})` : '';
  const where = context.table ? ` for ${context.table}` : '';
  const outcome = context.outcome ?? 'the target was rolled back';
  if (cause === 'pool-exhausted') return poolExhausted(error, context, outcome);
  const advice = adviceFor(cause, error);
  return new CopyError(phrase`${context.step}${where} failed: ${message}${detail}${advice ? phrase`; ${advice}` : ''}; ${outcome}`, {
    cause: error,
    failure: cause,
    table: context.table ?? database?.table,
    constraint: database?.constraint,
    details: { step: context.step, sqlstate: database?.code, detail: database?.detail ? redact(database.detail) : undefined, ...(context.lostSide ? { lostSide: context.lostSide } : {}) },
  });
}

/** PgBouncer gave up on our query: the pool (which side, which endpoint) had no free server connection for it. */
function poolExhausted(error: unknown, context: FailureContext, outcome: string): CopyError {
  const side = context.lostSide;
  const where = side ? ` the ${side}'s pooler${context.endpoints ? ` at ${context.endpoints[side]}` : ''}` : ' the pooler';
  const what = context.table ? ` for ${context.table}` : '';
  return new CopyError(`${context.step}${what} failed:${where} has no free server connection (its query_wait_timeout passed while the query waited); raise its pool_size or use session mode; ${outcome}`, {
    cause: error, failure: 'pool-exhausted', table: context.table,
    details: { step: context.step, ...(side ? { lostSide: side, endpoint: context.endpoints?.[side] } : {}) },
  });
}

/** The one error every stall becomes: which side stopped, in which step, and the option that sets the limit. */
export function stallError(stall: Stalled, step: string, table: string | undefined, outcome = 'the target was rolled back'): CopyError {
  return new CopyError(phrase`${step}${table ? ` of ${table}` : ''} failed: ${stall.message} (${optionNamed('stallTimeoutMs')}); ${outcome}`, {
    table, failure: 'stall', details: { step, stalledSide: stall.side, stall: stall.kind },
  });
}

/** What the run was locking when a lock timeout hit: the side, the mode it asked for and the tables. */
export interface Locking {
  side: Side;
  mode: LockMode;
  /** Quoted `"schema"."table"` names. */
  tables: readonly string[];
}

/**
 * A lock not granted within lockTimeoutMs, with the session that held it (read after our rollback) when it is
 * still there: the table, the mode we wanted, its pid, application_name, state and since when.
 */
export function lockTimeoutError(error: unknown, locking: Locking, holder: LockHolder | undefined, lockTimeoutMs: number, outcome: string): CopyError {
  const seconds = Math.round(lockTimeoutMs / 100) / 10;
  const wanted = `${locking.mode} lock on the ${locking.side}'s ${holder?.table ?? (locking.tables.length === 1 ? locking.tables[0] : 'tables')}`;
  const who = holder
    ? `pid ${holder.pid} (${holder.applicationName ? `application_name '${holder.applicationName}'` : 'no application_name'}, ${holder.state ?? 'state unknown'}${
      holder.since ? `, since ${holder.since.toISOString().replace(/\.\d+Z$/, 'Z')}` : ''}) holds ${holder.held} on it`
    : 'the session that held it has let go since';
  return new CopyError(phrase`locking failed: the ${wanted} was not granted within ${seconds} s; ${who}; retry when it is idle or raise ${optionNamed('lockTimeoutMs')}; ${outcome}`, {
    cause: error, failure: 'lock-timeout', table: holder?.table,
    details: { step: 'locking', side: locking.side, mode: locking.mode, ...(holder ? { holder: { ...holder, since: holder.since?.toISOString() } } : {}) },
  });
}
