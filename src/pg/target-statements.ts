// Statements the sync runs in its transactions, batched so a run's round trips grow with tables, not indexes.

import type pg from 'pg';
import { runBatch } from './batch.js';
import type { ForeignKeyInfo, IndexInfo, SequenceInfo, TriggerInfo, TriggerMode } from './catalog.js';
import { BUILDING_MARK } from './index-progress.js';
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
 * Text output pinned on both sides, so a table copied as text and a digest over text mean the same on two
 * servers whatever their DateStyle, IntervalStyle, TimeZone or extra_float_digits (a `date` under `SQL, DMY`
 * on one side and `MDY` on the other would otherwise swap day and month silently), and so do the bytes textsend
 * and the other text-based send functions hash for incremental digests (client_encoding). SET LOCAL: gone at the
 * transaction's end, and safe behind a transaction pooler.
 */
export const CANONICAL_TEXT = [
  `SET LOCAL client_encoding = 'UTF8'`,
  `SET LOCAL TimeZone = 'UTC'`,
  `SET LOCAL DateStyle = 'ISO, YMD'`,
  `SET LOCAL IntervalStyle = 'postgres'`,
  'SET LOCAL extra_float_digits = 1',
  `SET LOCAL bytea_output = 'hex'`,
  `SET LOCAL lc_monetary = 'C'`,
];

function ms(value: number): number {
  return Math.max(0, Math.round(value));
}

export interface TargetTransaction {
  /** False when another run holds the sync lock. */
  lockIsFree: boolean;
  backendPid: number;
  /** The transaction id, so a later run can ask txid_status() whether this one committed. */
  xid: string;
  /** The snapshot as the transaction began (`xmin:xmax:xip`): catalog rows written from its xmin on are new to the next run. */
  snapshot: string;
}

/**
 * Opens the target transaction in one message. Only SET LOCAL: behind a transaction pooler no session state
 * survives, and Supabase roles carry a statement_timeout of minutes that a long COPY or index build would hit.
 */
export async function beginTargetTransaction(client: pg.ClientBase, settings: TransactionSettings): Promise<TargetTransaction> {
  const results = await runBatch(client, [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    'SET LOCAL statement_timeout = 0',
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SET LOCAL lock_timeout = ${ms(settings.lockTimeoutMs)}`,
    `SET LOCAL maintenance_work_mem = ${quoteLiteral(settings.maintenanceWorkMem)}`,
    `SET LOCAL max_parallel_maintenance_workers = ${ms(settings.maxParallelMaintenanceWorkers)}`,
    // Rebuilt indexes go where they were: the database default unless the catalog named a tablespace.
    `SET LOCAL default_tablespace = ''`,
    // The set-based FK checks and the incremental diff hash (key, digest) of whole tables; at the default 4 MB
    // a 200,000-row table's join spills to disk.
    `SET LOCAL work_mem = '64MB'`,
    ...CANONICAL_TEXT,
    `SELECT pg_try_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_OBJECT}) AS locked, pg_backend_pid() AS pid, txid_current()::text AS xid,
            txid_current_snapshot()::text AS snapshot`,
  ]);
  const row = results.at(-1)?.rows[0] as { locked: boolean; pid: number; xid: string; snapshot: string } | undefined;
  return { lockIsFree: row?.locked === true, backendPid: row?.pid ?? 0, xid: row?.xid ?? '', snapshot: row?.snapshot ?? '' };
}

export interface ReadTransactionOptions {
  lockTimeoutMs: number;
  /** Quoted names of tables to lock ACCESS SHARE before the snapshot is taken. */
  lockTables: readonly string[];
  /** False for a preview that stages digests in temporary tables (and rolls back); default true. */
  readOnly?: boolean;
}

/**
 * One consistent, read-only snapshot of the source for the whole run. The tables are locked ACCESS SHARE
 * before the first statement that takes the snapshot: a TRUNCATE committed in between would otherwise make a
 * table look empty in it (TRUNCATE is not MVCC-safe), and the target would be emptied with all counts agreeing.
 */
export async function beginSourceSnapshot(client: pg.ClientBase, options: ReadTransactionOptions): Promise<void> {
  await runBatch(client, [
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    'SET LOCAL statement_timeout = 0',
    // The snapshot sits idle while the target rebuilds indexes; a server-side idle timeout must not end it.
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SET LOCAL lock_timeout = ${ms(options.lockTimeoutMs)}`,
    ...CANONICAL_TEXT,
    ...(options.lockTables.length > 0 ? [`LOCK TABLE ${options.lockTables.join(', ')} IN ACCESS SHARE MODE`] : []),
  ]);
}

/** A read-only transaction on the target for dry runs and comparisons; catalog reads wait for table locks, so bound it. */
export async function beginReadOnly(client: pg.ClientBase, options: ReadTransactionOptions): Promise<boolean> {
  const results = await runBatch(client, [
    `BEGIN ISOLATION LEVEL REPEATABLE READ${options.readOnly === false ? '' : ', READ ONLY'}`,
    'SET LOCAL statement_timeout = 0',
    `SET LOCAL lock_timeout = ${ms(options.lockTimeoutMs)}`,
    ...CANONICAL_TEXT,
    // A shared try-lock on the sync key: false while a sync holds it, never blocks one that starts later.
    `SELECT pg_try_advisory_xact_lock_shared(${LOCK_CLASS}, ${LOCK_OBJECT}) AS locked`,
    ...(options.lockTables.length > 0 ? [`LOCK TABLE ${options.lockTables.join(', ')} IN ACCESS SHARE MODE`] : []),
  ]);
  const lockRow = results.find((r) => r.command === 'SELECT')?.rows[0] as { locked: boolean } | undefined;
  return lockRow?.locked === true;
}

/** Which of `names` exist as tables in `schema` (read outside any snapshot, to know what can be locked). */
export async function existingTables(client: pg.ClientBase, schema: string, names: readonly string[]): Promise<string[]> {
  const result = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`,
    [schema, names],
  );
  return result.rows.map((r) => r.relname);
}

export function isUndefinedTable(error: unknown): boolean {
  return (error as { code?: unknown }).code === '42P01';
}

export async function rollback(client: pg.ClientBase): Promise<void> {
  await client.query('ROLLBACK');
}

export async function commit(client: pg.ClientBase): Promise<void> {
  await client.query('COMMIT');
}

/**
 * Tries `SET LOCAL session_replication_role = replica` (the SQL statement: Supabase's supautils allows it for
 * `postgres`, while set_config() is refused). Returns false, with the transaction intact, when the role may not.
 */
export async function trySkipTriggersWithReplicaRole(client: pg.ClientBase): Promise<boolean> {
  try {
    await runBatch(client, [
      'SAVEPOINT archon_sync_replica_role',
      'SET LOCAL session_replication_role = replica',
      'RELEASE SAVEPOINT archon_sync_replica_role',
    ]);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    await runBatch(client, ['ROLLBACK TO SAVEPOINT archon_sync_replica_role', 'RELEASE SAVEPOINT archon_sync_replica_role']);
    return false;
  }
}

const ENABLE_CLAUSE: Record<Exclude<TriggerMode, 'D'>, string> = { O: 'ENABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' };

export function disableTriggerStatement(trigger: TriggerInfo): string {
  return `ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} DISABLE TRIGGER ${quoteIdent(trigger.name)}`;
}

/** Puts a trigger back exactly as it was (normal, ALWAYS or REPLICA). */
export function restoreTriggerStatement(trigger: TriggerInfo): string | undefined {
  if (trigger.mode === 'D') return undefined;
  return `ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} ${ENABLE_CLAUSE[trigger.mode]} TRIGGER ${quoteIdent(trigger.name)}`;
}

export function dropForeignKeyStatement(fk: ForeignKeyInfo): string {
  return `ALTER TABLE ${quoteTable(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`;
}

/** Re-creates a foreign key from its saved definition; PostgreSQL validates it set-based unless it was NOT VALID. */
export function addForeignKeyStatement(fk: ForeignKeyInfo): string {
  return `ALTER TABLE ${quoteTable(fk.schema, fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`;
}

export function lockTablesStatement(tables: readonly string[], mode: 'ACCESS EXCLUSIVE' | 'SHARE ROW EXCLUSIVE'): string[] {
  return tables.length === 0 ? [] : [`LOCK TABLE ${tables.join(', ')} IN ${mode} MODE`];
}

export function dropIndexesStatement(indexes: readonly IndexInfo[]): string[] {
  return indexes.length === 0 ? [] : [`DROP INDEX ${indexes.map((i) => quoteTable(i.schema, i.name)).join(', ')}`];
}

export function truncateStatement(tables: readonly string[]): string[] {
  // ONLY, and no CASCADE: either would empty tables we do not copy (children by inheritance, referencing
  // tables). References from outside tables were set aside before this.
  return tables.length === 0 ? [] : [`TRUNCATE TABLE ONLY ${tables.join(', ')}`];
}

/** Empties a table row by row: for a table TRUNCATE may not empty alone (other tables' keys point at it). */
export function deleteAllStatement(table: string): string {
  return `DELETE FROM ONLY ${table}`;
}

/** Whether each table has at least one row, in one statement. */
export async function tablesWithRows(client: pg.ClientBase, tables: readonly string[]): Promise<boolean[]> {
  if (tables.length === 0) return [];
  const result = await client.query<Record<string, boolean>>(`SELECT ${tables.map((t, i) => `EXISTS (SELECT 1 FROM ONLY ${t}) AS e${i}`).join(', ')}`);
  const row = result.rows[0] ?? {};
  return tables.map((_, i) => row[`e${i}`] === true);
}

/** Runs statements in one round trip (or none when there are none). */
export async function runStatements(client: pg.ClientBase, statements: readonly string[]): Promise<void> {
  await runBatch(client, statements);
}

export interface ForeignKeyViolation {
  /** Position of the violated key in the list checked. */
  index: number;
  /** Key values of the first offending row, as text. */
  key: Record<string, string>;
}

/** The first row any of `fks` would reject, in one statement for all of them; undefined when every row is fine. */
export async function findForeignKeyViolation(client: pg.ClientBase, fks: readonly ForeignKeyInfo[]): Promise<ForeignKeyViolation | undefined> {
  if (fks.length === 0) return undefined;
  const checks = fks.map((fk, index) => {
    const child = quoteTable(fk.schema, fk.table);
    const parent = quoteTable(fk.refSchema, fk.refTable);
    const notNull = fk.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
    const joins = fk.columns.map((c, i) => `p.${quoteIdent(fk.refColumns[i] ?? c)} = c.${quoteIdent(c)}`).join(' AND ');
    const key = fk.columns.map((c) => `${quoteLiteral(c)}, c.${quoteIdent(c)}::text`).join(', ');
    // MATCH SIMPLE (the default): a key with any NULL column is not checked, exactly as PostgreSQL does.
    return `(SELECT ${index} AS fk, json_build_object(${key}) AS key
               FROM ${child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${joins}) LIMIT 1)`;
  });
  // In a subquery: a single parenthesized check followed by LIMIT would be "multiple LIMIT clauses".
  const result = await client.query<{ fk: number; key: Record<string, string> }>(`SELECT * FROM (${checks.join('\nUNION ALL\n')}) checks\nLIMIT 1`);
  const row = result.rows[0];
  return row ? { index: row.fk, key: row.key } : undefined;
}

/** CREATE INDEX and what pg_get_indexdef() leaves out: tablespace, comment, statistics targets, CLUSTER and REPLICA IDENTITY marks. */
export function createIndexStatements(index: IndexInfo, position = 0): string[] {
  const table = quoteTable(index.schema, index.table);
  const name = quoteTable(index.schema, index.name);
  return [
    // Names the build for the progress monitor (pg_stat_progress_create_index cannot name an uncommitted index).
    `SET LOCAL application_name = ${quoteLiteral(`${BUILDING_MARK}${position}`)}`,
    ...(index.tablespace ? [`SET LOCAL default_tablespace = ${quoteLiteral(index.tablespace)}`] : []),
    index.definition,
    ...(index.tablespace ? [`SET LOCAL default_tablespace = ''`] : []),
    ...(index.comment !== null ? [`COMMENT ON INDEX ${name} IS ${quoteLiteral(index.comment)}`] : []),
    ...index.statistics.map((s) => `ALTER INDEX ${name} ALTER COLUMN ${s.column} SET STATISTICS ${s.target}`),
    ...(index.clustered ? [`ALTER TABLE ${table} CLUSTER ON ${quoteIdent(index.name)}`] : []),
    ...(index.replicaIdentity ? [`ALTER TABLE ${table} REPLICA IDENTITY USING INDEX ${quoteIdent(index.name)}`] : []),
  ];
}

export interface IndexBuildReport {
  /** The parallel build ran out of shared memory and the indexes were built again without workers. */
  serialFallback: boolean;
  /** pgvector's notice that an HNSW graph outgrew maintenance_work_mem (the rest of the build is far slower). */
  outgrewMemory: string | undefined;
}

/**
 * Builds a table's indexes in one message inside a savepoint. A parallel build (pgvector's HNSW above all)
 * puts its working area, up to maintenance_work_mem, in dynamic shared memory: files in /dev/shm, which Docker
 * caps at 64 MB unless the container sets shm_size. Postgres then fails with "could not resize shared memory
 * segment … No space left on device" (SQLSTATE 53100, as if the disk were full). A serial build needs no shared
 * memory, so the batch is rolled back to the savepoint and built again without workers.
 */
export async function createIndexes(client: pg.ClientBase, indexes: readonly IndexInfo[], workers: number): Promise<IndexBuildReport> {
  if (indexes.length === 0) return { serialFallback: false, outgrewMemory: undefined };
  let outgrewMemory: string | undefined;
  const onNotice = (notice: { message?: string | undefined }) => {
    if (notice.message?.includes('no longer fits into maintenance_work_mem')) outgrewMemory = notice.message;
  };
  const builds = [...indexes.flatMap((index, position) => createIndexStatements(index, position)), 'SET LOCAL application_name = DEFAULT'];
  client.on('notice', onNotice);
  try {
    try {
      await runBatch(client, ['SAVEPOINT archon_sync_index', ...builds, 'RELEASE SAVEPOINT archon_sync_index']);
      return { serialFallback: false, outgrewMemory };
    } catch (error) {
      if (!isSharedMemoryExhausted(error)) throw error;
      await runBatch(client, ['ROLLBACK TO SAVEPOINT archon_sync_index', 'RELEASE SAVEPOINT archon_sync_index']);
    }
    await runBatch(client, [
      'SET LOCAL max_parallel_maintenance_workers = 0',
      ...builds,
      `SET LOCAL max_parallel_maintenance_workers = ${ms(workers)}`,
    ]);
    return { serialFallback: true, outgrewMemory };
  } finally {
    client.off('notice', onNotice);
  }
}

export function isSharedMemoryExhausted(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '53100' && typeof message === 'string' && message.includes('shared memory segment');
}

export interface SequenceTarget {
  sequence: SequenceInfo;
  /** Quoted table the column belongs to. */
  table: string;
  /** The source sequence's last value, when it was read: ids are never handed out twice. */
  sourceLastValue: number | null;
}

/**
 * Moves every sequence past every id in its column (and past the source's own position) in one round trip.
 * ALTER SEQUENCE … RESTART gives the sequence new storage, so, unlike setval(), it is undone by a rollback:
 * a failed run leaves every sequence where it was. A sequence already in place is left alone (no write).
 */
export async function advanceSequences(client: pg.ClientBase, targets: readonly SequenceTarget[]): Promise<void> {
  if (targets.length === 0) return;
  const steps = targets.map(({ sequence, table, sourceLastValue }) => {
    const up = sequence.increment >= 0;
    const source = sourceLastValue === null ? 'NULL' : `${sourceLastValue}::bigint`;
    const extreme = up ? 'greatest' : 'least';
    const aggregate = up ? 'max' : 'min';
    return `
  SELECT coalesce(${extreme}((SELECT ${aggregate}(${quoteIdent(sequence.column)}) FROM ONLY ${table})::bigint, ${source}) + ${sequence.increment},
                  (SELECT seqstart FROM pg_sequence WHERE seqrelid = ${quoteLiteral(sequence.sequence)}::regclass)) INTO wanted;
  SELECT CASE WHEN is_called THEN last_value + ${sequence.increment} ELSE last_value END INTO next_value FROM ${sequence.sequence};
  IF next_value IS DISTINCT FROM wanted THEN
    EXECUTE ${quoteLiteral(`ALTER SEQUENCE ${sequence.sequence} RESTART WITH `)} || wanted::text;
  END IF;`;
  });
  await client.query(`DO $archon_sync$\nDECLARE wanted bigint; next_value bigint;\nBEGIN${steps.join('')}\nEND\n$archon_sync$`);
}
