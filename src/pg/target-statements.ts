// Statements the sync runs inside the one target transaction, each a named function with quoted identifiers.

import type pg from 'pg';
import type { ForeignKeyInfo, IndexInfo, TriggerInfo, TriggerMode } from './catalog.js';
import { quoteIdent, quoteLiteral, quoteTable } from './quote.js';

export interface TransactionSettings {
  lockTimeoutMs: number;
  maintenanceWorkMem: string;
  maxParallelMaintenanceWorkers: number;
}

// A two-key advisory lock private to archon-sync ("ARCH", 1): one sync at a time per target database.
const LOCK_CLASS = 0x41524348;
const LOCK_OBJECT = 1;

/**
 * Opens the target transaction. Only SET LOCAL: behind a transaction pooler no session state survives,
 * and Supabase roles carry a statement_timeout of minutes that a long COPY or index build would hit.
 */
export async function beginTargetTransaction(client: pg.ClientBase, settings: TransactionSettings): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  await client.query('SET LOCAL statement_timeout = 0');
  await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
  await client.query(`SET LOCAL lock_timeout = ${Math.max(0, Math.round(settings.lockTimeoutMs))}`);
  await client.query(`SET LOCAL maintenance_work_mem = ${quoteLiteral(settings.maintenanceWorkMem)}`);
  await client.query(`SET LOCAL max_parallel_maintenance_workers = ${Math.max(0, Math.round(settings.maxParallelMaintenanceWorkers))}`);
}

/** One consistent, read-only snapshot of the source for the whole run. */
export async function beginSourceSnapshot(client: pg.ClientBase): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  await client.query('SET LOCAL statement_timeout = 0');
  // The snapshot sits idle while the target rebuilds indexes; a server-side idle timeout must not end it.
  await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
}

/** A read-only transaction on the target for dry runs; reading index definitions waits for table locks, so bound it. */
export async function beginReadOnly(client: pg.ClientBase, lockTimeoutMs: number): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  await client.query('SET LOCAL statement_timeout = 0');
  await client.query(`SET LOCAL lock_timeout = ${Math.max(0, Math.round(lockTimeoutMs))}`);
}

/** Transaction-level, so it works through a transaction pooler and is released by COMMIT, ROLLBACK or a lost connection. */
export async function tryLockSyncSlot(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS locked', [LOCK_CLASS, LOCK_OBJECT]);
  return result.rows[0]?.locked === true;
}

/** A shared try-lock on the same key: fails while a sync holds it, never blocks one that starts later. */
export async function trySyncSlotShared(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock_shared($1, $2) AS locked', [LOCK_CLASS, LOCK_OBJECT]);
  return result.rows[0]?.locked === true;
}

export async function backendPid(client: pg.ClientBase): Promise<number> {
  const result = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return result.rows[0]?.pid ?? 0;
}

export async function lockTables(client: pg.ClientBase, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  await client.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
}

/**
 * Tries `SET LOCAL session_replication_role = replica` (the SQL statement: Supabase's supautils allows it for
 * `postgres`, while set_config() is refused). Returns false, with the transaction intact, when the role may not.
 */
export async function trySkipTriggersWithReplicaRole(client: pg.ClientBase): Promise<boolean> {
  await client.query('SAVEPOINT archon_sync_replica_role');
  try {
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query('RELEASE SAVEPOINT archon_sync_replica_role');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    await client.query('ROLLBACK TO SAVEPOINT archon_sync_replica_role');
    await client.query('RELEASE SAVEPOINT archon_sync_replica_role');
    return false;
  }
}

export async function disableTrigger(client: pg.ClientBase, trigger: TriggerInfo): Promise<void> {
  await client.query(`ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} DISABLE TRIGGER ${quoteIdent(trigger.name)}`);
}

const ENABLE_CLAUSE: Record<Exclude<TriggerMode, 'D'>, string> = { O: 'ENABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' };

/** Puts a trigger back exactly as it was (normal, ALWAYS or REPLICA). */
export async function restoreTrigger(client: pg.ClientBase, trigger: TriggerInfo): Promise<void> {
  if (trigger.mode === 'D') return;
  await client.query(`ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} ${ENABLE_CLAUSE[trigger.mode]} TRIGGER ${quoteIdent(trigger.name)}`);
}

export async function dropForeignKey(client: pg.ClientBase, fk: ForeignKeyInfo): Promise<void> {
  await client.query(`ALTER TABLE ${quoteTable(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
}

/** Re-creates a foreign key from its saved definition; PostgreSQL validates it set-based unless it was NOT VALID. */
export async function addForeignKey(client: pg.ClientBase, fk: ForeignKeyInfo): Promise<void> {
  await client.query(`ALTER TABLE ${quoteTable(fk.schema, fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`);
}

/** The first row (its key values as text) that a foreign key would reject, or undefined when every row is fine. */
export async function findForeignKeyViolation(client: pg.ClientBase, fk: ForeignKeyInfo): Promise<Record<string, string> | undefined> {
  const child = quoteTable(fk.schema, fk.table);
  const parent = quoteTable(fk.refSchema, fk.refTable);
  const notNull = fk.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
  const joins = fk.columns.map((c, i) => `p.${quoteIdent(fk.refColumns[i] ?? c)} = c.${quoteIdent(c)}`).join(' AND ');
  const select = fk.columns.map((c) => `c.${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ');
  // MATCH SIMPLE (the default): a key with any NULL column is not checked, exactly as PostgreSQL does.
  const result = await client.query<Record<string, string>>(
    `SELECT ${select} FROM ${child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${joins}) LIMIT 1`,
  );
  return result.rows[0];
}

export async function truncateTables(client: pg.ClientBase, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  // No CASCADE: it would empty tables we do not copy. References from those were set aside before this.
  await client.query(`TRUNCATE TABLE ${tables.join(', ')}`);
}

export async function dropIndex(client: pg.ClientBase, index: IndexInfo): Promise<void> {
  await client.query(`DROP INDEX ${quoteTable(index.schema, index.name)}`);
}

export interface IndexBuildReport {
  /** The parallel build ran out of shared memory and the index was built again without workers. */
  serialFallback: boolean;
  /** pgvector's notice that the HNSW graph outgrew maintenance_work_mem (the rest of the build is far slower). */
  outgrewMemory: string | undefined;
}

/**
 * A parallel build (pgvector's HNSW above all) puts its working area, up to maintenance_work_mem, in dynamic
 * shared memory: files in /dev/shm, which Docker caps at 64 MB unless the container sets shm_size. Postgres
 * then fails with "could not resize shared memory segment … No space left on device" (SQLSTATE 53100, as if
 * the disk were full). A serial build needs no shared memory, so the index is built again without workers,
 * inside a savepoint so the transaction's work survives.
 */
export async function createIndex(client: pg.ClientBase, index: IndexInfo): Promise<IndexBuildReport> {
  let outgrewMemory: string | undefined;
  const onNotice = (notice: { message?: string | undefined }) => {
    if (notice.message?.includes('no longer fits into maintenance_work_mem')) outgrewMemory = notice.message;
  };
  client.on('notice', onNotice);
  try {
    await client.query('SAVEPOINT archon_sync_index');
    try {
      await client.query(index.definition);
      await client.query('RELEASE SAVEPOINT archon_sync_index');
      return { serialFallback: false, outgrewMemory };
    } catch (error) {
      if (!isSharedMemoryExhausted(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT archon_sync_index');
      await client.query('RELEASE SAVEPOINT archon_sync_index');
    }
    const workers = await client.query<{ workers: string }>('SHOW max_parallel_maintenance_workers');
    await client.query('SET LOCAL max_parallel_maintenance_workers = 0');
    await client.query(index.definition);
    await client.query(`SET LOCAL max_parallel_maintenance_workers = ${Number(workers.rows[0]?.workers ?? 0)}`);
    return { serialFallback: true, outgrewMemory };
  } finally {
    client.off('notice', onNotice);
  }
}

export function isSharedMemoryExhausted(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '53100' && typeof message === 'string' && message.includes('shared memory segment');
}

/** Moves a sequence past every copied id (and past the source's own position), so the next nextval cannot collide. */
export async function setSequence(client: pg.ClientBase, sequence: string, table: string, column: string, sourceLastValue: number | undefined): Promise<void> {
  await client.query(
    `SELECT CASE WHEN v IS NULL THEN setval($1::regclass, s.seqmin, false) ELSE setval($1::regclass, v, true) END
       FROM (SELECT greatest((SELECT max(${quoteIdent(column)}) FROM ${table})::bigint, $2::bigint) AS v) m,
            pg_sequence s WHERE s.seqrelid = $1::regclass`,
    [sequence, sourceLastValue ?? null],
  );
}
