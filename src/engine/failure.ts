// Turns whatever a step threw (a server error, a lost socket, an abort) into the typed error the caller sees.

import pg from 'pg';
import { ArchonSyncError, CancelledError, CopyError } from '../errors.js';
import { redact } from '../pg/redact.js';
import { isSharedMemoryExhausted } from '../pg/target-statements.js';

export const CANCELLED_MESSAGE = 'cancelled; the target was rolled back and is unchanged';

interface Hint {
  text: string;
  /** The library option the advice is about, so a front end can name its own flag for it. */
  option?: string;
}

// Advice by SQLSTATE; worded for any caller (library options by their library names).
const HINTS: Record<string, Hint> = {
  '55P03': { text: 'another session holds a lock on it; retry when it is idle or raise lockTimeoutMs', option: 'lockTimeoutMs' },
  '53100': { text: 'the target is out of disk space; free space there and retry' },
  '53200': { text: 'the target ran out of memory; lower maintenanceWorkMem and retry', option: 'maintenanceWorkMem' },
  '53400': { text: 'the target hit a configured limit (temp_file_limit?); raise it or lower maintenanceWorkMem', option: 'maintenanceWorkMem' },
  '57P01': { text: 'the server ended our connection (restart or pg_terminate_backend); nothing was committed, retry' },
  '57P02': { text: 'the server crashed; nothing was committed, retry when it is back' },
  '57P03': { text: 'the server is starting up or shutting down; retry when it is up' },
  '42501': { text: 'the role lacks a privilege it needs; connect as the tables\' owner' },
  '23503': { text: 'a row points at a key that does not exist' },
};

// Same SQLSTATE as a full disk, but the cause is a container's small /dev/shm under a parallel plan or build.
const SHARED_MEMORY_HINT: Hint = {
  text: 'the server\'s shared memory (/dev/shm; 64 MB in a container by default) is too small for a parallel operation; give the container a larger shm_size (e.g. 1g)',
};
// pgvector's ivfflat build refuses outright when its k-means sample does not fit.
const IVFFLAT_MEMORY_HINT: Hint = { text: 'raise maintenanceWorkMem above the memory required', option: 'maintenanceWorkMem' };
const LOST_CONNECTION_HINT: Hint = { text: 'the connection to a server was lost; nothing was committed on the target, retry' };

function hintFor(error: unknown, message: string): Hint | undefined {
  if (isSharedMemoryExhausted(error)) return SHARED_MEMORY_HINT;
  if (/memory required is .*maintenance_work_mem is/.test(message)) return IVFFLAT_MEMORY_HINT;
  if (error instanceof pg.DatabaseError && error.code) return HINTS[error.code];
  if (/Connection terminated|ECONNRESET|EPIPE|connection.*(closed|lost)/i.test(message)) return LOST_CONNECTION_HINT;
  return undefined;
}

export interface FailureContext {
  /** What the run was doing, in words ("copy", "index rebuild", …). */
  step: string;
  /** The table it was working on, schema-qualified. */
  table?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Set when a watchdog ended the step: the real reason, which the socket error would hide. */
  stall?: ArchonSyncError | undefined;
}

/** The typed, one-line error for anything thrown during a step; already-typed errors pass through. */
export function asSyncError(error: unknown, context: FailureContext): ArchonSyncError {
  if (context.stall) return context.stall;
  if (context.signal?.aborted) return new CancelledError(CANCELLED_MESSAGE, { cause: error, table: context.table });
  if (error instanceof ArchonSyncError) return error;
  const database = error instanceof pg.DatabaseError ? error : undefined;
  const message = redact(error instanceof Error ? error.message : String(error));
  const hint = hintFor(error, message);
  const detail = database?.detail ? ` (${redact(database.detail)})` : '';
  const where = context.table ? ` for ${context.table}` : '';
  return new CopyError(`${context.step}${where} failed: ${message}${detail}${hint ? `; ${hint.text}` : ''}; the target was rolled back`, {
    cause: error,
    table: context.table ?? database?.table,
    constraint: database?.constraint,
    option: hint?.option,
    details: { step: context.step, sqlstate: database?.code, detail: database?.detail ? redact(database.detail) : undefined },
  });
}
