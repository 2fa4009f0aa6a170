// The run's transactions: the target's (the one that writes), the source snapshot, and the read-only one of plan and verify.

import type pg from 'pg';
import { runBatch } from './batch.js';
import { HISTORY_TABLE } from './history-statements.js';
import { quoteLiteral, sqlCount } from './quote.js';
import { SYNC_LOCK_CLASS, SYNC_LOCK_OBJECT } from './sync-lock.js';

export interface TransactionSettings {
  lockTimeoutMs: number;
  maintenanceWorkMem: string;
  maxParallelMaintenanceWorkers: number;
}


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

/**
 * A backend whose client died (kill -9, a lost laptop) notices within a second even while it computes (an index
 * build, a long copy), instead of holding every lock until its statement ends. PostgreSQL 14 and later; earlier
 * servers do not have the setting, so it is set only where the server has it. It is a SELECT, so in a repeatable-read
 * transaction it takes the snapshot: send it after the locks that must come first.
 */
export const CLIENT_DEATH_CHECK = `SELECT set_config('client_connection_check_interval', '1000', true) WHERE current_setting('server_version_num')::int >= 140000`;

export interface TargetTransaction {
  /** False when another run holds the sync lock. */
  lockIsFree: boolean;
  /** The replies to `then`, in order. */
  then: pg.QueryResult[];
  backendPid: number;
  /** The transaction id, so a later run can ask txid_status() whether this one committed (empty for a preview). */
  xid: string;
  /** The snapshot as the transaction began (`xmin:xmax:xip`): catalog rows written from its xmin on are new to the next run. */
  snapshot: string;
  /** archon_sync_history exists and this role may read it: where watermarks of earlier runs are. */
  historyReadable: boolean;
}

export interface TargetTransactionOptions extends TransactionSettings {
  /**
   * `exclusive` for a run that writes: one at a time per target. `shared` for a preview: previews do not block
   * each other, and a run that starts while one reads refuses as it would behind another run.
   */
  lock: 'exclusive' | 'shared';
  /**
   * Statements sent in the same message, after the lock is tried (one round trip for both). To run them only when
   * the lock was granted, make them conditional on syncLockHeld(lock).
   */
  then?: readonly string[] | undefined;
}

/**
 * True when this transaction holds the sync lock in `lock` mode, as an SQL condition (trying again is granted
 * at once to its holder, and refused to anyone else), for a statement sent in the message that first tries it.
 */
export function syncLockHeld(lock: 'exclusive' | 'shared'): string {
  return `${lock === 'exclusive' ? 'pg_try_advisory_xact_lock' : 'pg_try_advisory_xact_lock_shared'}(${SYNC_LOCK_CLASS}, ${SYNC_LOCK_OBJECT})`;
}

/**
 * Opens the target transaction in one message. Only SET LOCAL: behind a transaction pooler no session state
 * survives, and Supabase roles carry a statement_timeout of minutes that a long COPY or index build would hit.
 */
export async function beginTargetTransaction(client: pg.ClientBase, settings: TargetTransactionOptions): Promise<TargetTransaction> {
  return targetTransactionFrom(await runBatch(client, targetTransactionStatements(settings)), settings);
}

/** beginTargetTransaction's statements, for a caller that sends them in one message with others before them. */
export function targetTransactionStatements(settings: TargetTransactionOptions): string[] {
  const history = quoteLiteral(HISTORY_TABLE);
  return [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    'SET LOCAL statement_timeout = 0',
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SET LOCAL lock_timeout = ${sqlCount(settings.lockTimeoutMs)}`,
    `SET LOCAL maintenance_work_mem = ${quoteLiteral(settings.maintenanceWorkMem)}`,
    `SET LOCAL max_parallel_maintenance_workers = ${sqlCount(settings.maxParallelMaintenanceWorkers)}`,
    // Rebuilt indexes go where they were: the database default unless the catalog named a tablespace.
    `SET LOCAL default_tablespace = ''`,
    // The set-based FK checks and the incremental diff hash (key, digest) of whole tables; at the default 4 MB
    // a 200,000-row table's join spills to disk.
    `SET LOCAL work_mem = '64MB'`,
    ...CANONICAL_TEXT,
    CLIENT_DEATH_CHECK,
    `SELECT ${syncLockHeld(settings.lock)} AS locked,
            pg_backend_pid() AS pid, ${settings.lock === 'exclusive' ? 'txid_current()::text' : "''"} AS xid,
            txid_current_snapshot()::text AS snapshot,
            CASE WHEN to_regclass(${history}) IS NULL THEN false ELSE has_table_privilege(to_regclass(${history}), 'SELECT') END AS history`,
    ...(settings.then ?? []),
  ];
}

/** The transaction begun by targetTransactionStatements(settings), from the replies to them (the last ones). */
export function targetTransactionFrom(replies: readonly pg.QueryResult[], settings: TargetTransactionOptions): TargetTransaction {
  const then = replies.slice(replies.length - (settings.then?.length ?? 0));
  const row = replies.at(-1 - then.length)?.rows[0] as { locked: boolean; pid: number; xid: string; snapshot: string; history: boolean } | undefined;
  return { lockIsFree: row?.locked === true, backendPid: row?.pid ?? 0, xid: row?.xid ?? '', snapshot: row?.snapshot ?? '', historyReadable: row?.history === true, then };
}

export interface ReadTransactionOptions {
  lockTimeoutMs: number;
  /** Quoted names of tables to lock ACCESS SHARE before the snapshot is taken. */
  lockTables: readonly string[];
}

export interface SourceSnapshotOptions extends ReadTransactionOptions {
  /** Statements sent in the same message, in the snapshot (one round trip for all). */
  then?: readonly string[] | undefined;
}

/**
 * One consistent, read-only snapshot of the source for the whole run. The tables are locked ACCESS SHARE
 * before the first statement that takes the snapshot: a TRUNCATE committed in between would otherwise make a
 * table look empty in it (TRUNCATE is not MVCC-safe), and the target would be emptied with all counts agreeing.
 */
export async function beginSourceSnapshot(client: pg.ClientBase, options: SourceSnapshotOptions): Promise<pg.QueryResult[]> {
  const results = await runBatch(client, [
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    'SET LOCAL statement_timeout = 0',
    // The snapshot sits idle while the target rebuilds indexes; a server-side idle timeout must not end it.
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SET LOCAL lock_timeout = ${sqlCount(options.lockTimeoutMs)}`,
    ...CANONICAL_TEXT,
    ...(options.lockTables.length > 0 ? [`LOCK TABLE ${options.lockTables.join(', ')} IN ACCESS SHARE MODE`] : []),
    // A SELECT: it takes the snapshot, so only after the locks.
    CLIENT_DEATH_CHECK,
    ...(options.then ?? []),
  ]);
  return results.slice(results.length - (options.then?.length ?? 0));
}

/**
 * A repeatable-read transaction on the target for verify's comparison, read-only unless `readOnly: false` (the
 * multi-table diff stages digests in temporary tables; verify rolls it back); catalog reads wait for table
 * locks, so bound it.
 */
export async function beginReadOnly(client: pg.ClientBase, options: SourceSnapshotOptions & { readOnly?: boolean | undefined }): Promise<{ lockIsFree: boolean; historyReadable: boolean; canStage: boolean; then: pg.QueryResult[] }> {
  const history = quoteLiteral(HISTORY_TABLE);
  const results = await runBatch(client, [
    `BEGIN ISOLATION LEVEL REPEATABLE READ${options.readOnly === false ? '' : ', READ ONLY'}`,
    'SET LOCAL statement_timeout = 0',
    `SET LOCAL lock_timeout = ${sqlCount(options.lockTimeoutMs)}`,
    ...CANONICAL_TEXT,
    // A shared try-lock on the sync key: false while a sync holds it, never blocks one that starts later. Whether
    // the history table (where a watermark would be) can be read, and whether temporary tables can be created
    // (not on a standby, nor in a read-only transaction, nor without the TEMP right).
    `SELECT pg_try_advisory_xact_lock_shared(${SYNC_LOCK_CLASS}, ${SYNC_LOCK_OBJECT}) AS locked,
            CASE WHEN to_regclass(${history}) IS NULL THEN false ELSE has_table_privilege(to_regclass(${history}), 'SELECT') END AS history,
            NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'
              AND has_database_privilege(current_database(), 'TEMP') AS can_stage`,
    ...(options.lockTables.length > 0 ? [`LOCK TABLE ${options.lockTables.join(', ')} IN ACCESS SHARE MODE`] : []),
    ...(options.then ?? []),
  ]);
  const then = results.splice(results.length - (options.then?.length ?? 0));
  const row = results.find((r) => r.command === 'SELECT')?.rows[0] as { locked: boolean; history: boolean; can_stage: boolean } | undefined;
  return { lockIsFree: row?.locked === true, historyReadable: row?.history === true, canStage: row?.can_stage === true, then };
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

/** COMMIT, after `before` (statements that must commit with the data) and before `after` (a short transaction of their own), in one message. */
export async function commit(client: pg.ClientBase, before: readonly string[] = [], after: readonly string[] = []): Promise<void> {
  await runBatch(client, [...before, 'COMMIT', ...after]);
}
