// What a server error says about why a step failed: its SQLSTATE (and, where one code covers several causes, the
// source file that raised it), mapped to a cause in this one place.

import pg from 'pg';
import type { FailureCause } from '../errors.js';

const CAUSE_OF_SQLSTATE: Record<string, FailureCause> = {
  '55P03': 'lock-timeout',
  '53100': 'out-of-disk',
  '53200': 'out-of-memory',
  '53400': 'resource-limit',
  '42501': 'permission',
  '57P01': 'server-shutdown',
  '57P02': 'server-shutdown',
  '57P03': 'server-shutdown',
  '23503': 'foreign-key',
};

/**
 * PgBouncer's FATAL for a client whose query waited in its queue for query_wait_timeout (120 s by default) with no
 * free server connection in the pool. It has no SQLSTATE of its own (08P01, a protocol violation, as every FATAL of
 * PgBouncer's), only this fixed message: the one place a message is read to know a cause.
 */
export function isPoolQueueTimeout(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '08P01' && error.message === 'query_wait_timeout';
}

/** The cause a server error reports, or undefined for one that says nothing we can advise on. */
export function causeOfServerError(error: unknown): FailureCause | undefined {
  if (!(error instanceof pg.DatabaseError) || !error.code) return undefined;
  if (isPoolQueueTimeout(error)) return 'pool-exhausted';
  // A dynamic shared memory segment that cannot grow reports ENOSPC as a full disk; in a container it is /dev/shm.
  if (error.code === '53100' && error.file?.startsWith('dsm')) return 'shared-memory';
  // pgvector's ivfflat refuses to start k-means whose sample does not fit maintenance_work_mem ("program limit").
  if (error.code === '54000' && error.file?.startsWith('ivf')) return 'out-of-memory';
  return CAUSE_OF_SQLSTATE[error.code];
}

/** An ERROR the server raised for one statement, the connection still usable (not a FATAL, not a lost socket). */
export function isStatementError(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === 'ERROR';
}

/** Whether a NOTICE is pgvector's warning that an HNSW graph outgrew maintenance_work_mem (its only notice while building). */
export function isHnswOutgrewMemory(notice: { file?: string | undefined }): boolean {
  return notice.file === 'hnswbuild.c';
}
