// SQL for the archon_sync_history table: insert a run, update it, read recent runs.

import type pg from 'pg';
import { dollarQuotedBlock, quoteLiteral } from './quote.js';
import { SYNC_LOCK_CLASS, SYNC_LOCK_OBJECT } from './sync-lock.js';

/** The run log archon-sync writes into the target; never copied. */
export const HISTORY_TABLE = 'archon_sync_history';

/** Columns we update while a run goes on and at its end (names as in Archon's migration). */
export interface HistoryFields {
  status?: 'running' | 'completed' | 'failed' | 'cancelled';
  current_phase?: string;
  current_table?: string | null;
  synced_rows?: number;
  total_rows?: number;
  percent_complete?: number;
  completed_at?: Date;
  duration_seconds?: number;
  export_duration_seconds?: number;
  import_duration_seconds?: number;
  indexing_duration_seconds?: number;
  export_size_mb?: number;
  tables_synced?: unknown[];
  verification_results?: Record<string, unknown>;
  error_message?: string | null;
  error_details?: Record<string, unknown> | null;
  metadata?: Record<string, unknown>;
}

const JSON_COLUMNS = new Set(['tables_synced', 'verification_results', 'error_details', 'metadata']);
const UPDATABLE = new Set<string>([
  'status', 'current_phase', 'current_table', 'synced_rows', 'total_rows', 'percent_complete', 'completed_at',
  'duration_seconds', 'export_duration_seconds', 'import_duration_seconds', 'indexing_duration_seconds',
  'export_size_mb', 'tables_synced', 'verification_results', 'error_message', 'error_details', 'metadata',
]);

export interface HistoryRowStart {
  syncId: string;
  direction: string;
  triggeredBy: string;
  sourceDb: string;
  targetDb: string;
  metadata: Record<string, unknown>;
  /**
   * The connection is the run's main one, named runApplicationName(syncId): when another run took this second's
   * id, the block renames it after the id it wrote (a refused run names the lock holder by it).
   */
  namesConnection?: boolean | undefined;
}

export async function historyTableExists(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ found: boolean }>(`SELECT to_regclass('${HISTORY_TABLE}') IS NOT NULL AS found`);
  return result.rows[0]?.found === true;
}

// A history write must never wait for a synchronous standby (the run's own COMMIT is bounded; these are not) nor
// hang on a row lock: each runs in a short transaction of its own with these settings, SET LOCAL so nothing stays
// behind on a pooled server connection.
const SHORT_WRITE = [`SET LOCAL synchronous_commit = local`, `SET LOCAL statement_timeout = '5s'`, `SET LOCAL lock_timeout = '2s'`];

const SYNC_LOCK = `${SYNC_LOCK_CLASS}, ${SYNC_LOCK_OBJECT}`;

/** The application_name of a sync's main target connection: `archon-sync sync_…`, so a lock holder names its run. */
export function runApplicationName(syncId: string): string {
  return `archon-sync ${syncId}`.slice(0, 63);
}

/** A value as SQL text for the history statements, which go as one message and so cannot take parameters. */
function literal(key: string, value: unknown): string {
  if (value === null) return 'NULL';
  if (JSON_COLUMNS.has(key)) return `${quoteLiteral(JSON.stringify(value))}::jsonb`;
  if (value instanceof Date) return `${quoteLiteral(value.toISOString())}::timestamptz`;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  return typeof value === 'string' ? quoteLiteral(value) : quoteLiteral(JSON.stringify(value));
}

/** What startRunStatements says once its row is written (DETAIL: the id, '' when every id was taken). */
export const STARTED_NOTICE = 'archon-sync: history row written';

/**
 * The `running` row, in a short transaction of its own on the run's main connection before its transaction
 * begins, so it exists whatever becomes of the run. The first free id of `sync_…`, `sync_…_2`, … is taken. In the
 * same message, while the sync lock is free, rows of dead runs are settled (see settleAbandonedStatement). Both in
 * a block that ends with STARTED_NOTICE, so a caller that sends more statements in the same message knows, when
 * one of those fails, that the row was written (the replies of a failed message are lost).
 */
export function startRunStatements(start: HistoryRowStart): string[] {
  const id = quoteLiteral(start.syncId);
  return [
    'BEGIN',
    ...SHORT_WRITE,
    `SET LOCAL client_min_messages = notice`,
    dollarQuotedBlock(`DECLARE written text; BEGIN
     INSERT INTO ${HISTORY_TABLE}
       (sync_id, direction, status, current_phase, percent_complete, triggered_by, source_db, target_db, metadata, started_at)
     SELECT c.id, ${quoteLiteral(start.direction)}, 'running', 'validation', 0, ${quoteLiteral(start.triggeredBy)},
            ${quoteLiteral(start.sourceDb)}, ${quoteLiteral(start.targetDb)}, ${quoteLiteral(JSON.stringify(start.metadata))}::jsonb, now()
       FROM (SELECT ${id} AS id, 1 AS n UNION ALL SELECT ${id} || '_' || g, g FROM generate_series(2, 50) g) c
      WHERE NOT EXISTS (SELECT 1 FROM ${HISTORY_TABLE} h WHERE h.sync_id = c.id)
      ORDER BY c.n LIMIT 1
     ON CONFLICT (sync_id) DO NOTHING
     RETURNING sync_id INTO written;${start.namesConnection ? `
     IF written <> ${id} THEN PERFORM pg_catalog.set_config('application_name', ${quoteLiteral(runApplicationName(''))} || written, false); END IF;` : ''}
     ${settleAbandonedStatement()};
     RAISE NOTICE '${STARTED_NOTICE}' USING DETAIL = coalesce(written, '');
    END`),
    'COMMIT',
  ];
}

/**
 * Settles rows of archon-sync runs still marked `running` whose run is gone: only while the sync lock is free (a
 * live run holds it from its BEGIN to its COMMIT) and no backend carries the run's application_name. A run writes
 * its target transaction id into its row inside that transaction, just before COMMIT: a row without it never
 * committed anything. With it, txid_status() tells whether the transaction committed (the run died after COMMIT,
 * before its last history write). Rows other writers (Archon's own scripts) left `running` are not ours to judge.
 */
export function settleAbandonedStatement(): string {
  return `WITH abandoned AS (
       SELECT sync_id, CASE WHEN metadata->>'target_xid' ~ '^[0-9]+$'
                            THEN coalesce(txid_status((metadata->>'target_xid')::bigint), 'unknown') ELSE 'never committed' END AS outcome
         FROM ${HISTORY_TABLE}
        WHERE status = 'running' AND metadata->>'tool' = 'archon-sync'
          AND started_at < now() - interval '2 seconds'
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'archon-sync ' || sync_id)
          AND pg_try_advisory_xact_lock(${SYNC_LOCK}))
     UPDATE ${HISTORY_TABLE} h
        SET status = CASE WHEN a.outcome = 'committed' THEN 'completed' ELSE 'failed' END,
            completed_at = coalesce(h.completed_at, now()),
            percent_complete = CASE WHEN a.outcome = 'committed' THEN 100 ELSE h.percent_complete END,
            error_message = CASE
              WHEN a.outcome = 'committed' THEN h.error_message
              WHEN a.outcome IN ('aborted', 'in progress', 'never committed')
                THEN 'the run ended without recording its outcome (process killed or connection lost); nothing it did was committed'
              ELSE 'the run ended without recording its outcome, and whether it committed can no longer be told' END,
            metadata = h.metadata || jsonb_build_object('outcome_recorded_by_a_later_run', true)
       FROM abandoned a
      WHERE h.sync_id = a.sync_id`;
}

/** The run's row set to `fields`. `whileRunning`: only a row still `running`, so a late progress write never overwrites an outcome. */
export function updateRunStatement(syncId: string, fields: HistoryFields, options: { whileRunning?: boolean; mergeMetadata?: boolean } = {}): string | undefined {
  const entries = (Object.entries(fields) as [string, unknown][]).filter(([key, value]) => UPDATABLE.has(key) && value !== undefined);
  if (entries.length === 0) return undefined;
  const sets = entries.map(([key, value]) => (key === 'metadata' && options.mergeMetadata
    ? `metadata = coalesce(metadata, '{}'::jsonb) || ${literal(key, value)}`
    : `${key} = ${literal(key, value)}`));
  return `UPDATE ${HISTORY_TABLE} SET ${sets.join(', ')}, updated_at = now() WHERE sync_id = ${quoteLiteral(syncId)}${options.whileRunning ? ` AND status = 'running'` : ''}`;
}

/** An update in a short transaction of its own (autocommit on the connection it is sent on). */
export function shortUpdateStatements(statement: string): string[] {
  return ['BEGIN', ...SHORT_WRITE, statement, 'COMMIT'];
}

/**
 * An update inside the run's own transaction that cannot fail it: a history row this role may not update must
 * not roll back the data. The exception block is a subtransaction; a failure becomes a WARNING.
 */
export function guardedInTransaction(statement: string): string {
  return dollarQuotedBlock(`BEGIN ${statement}; EXCEPTION WHEN OTHERS THEN RAISE WARNING 'archon-sync: the history row was not updated: %', SQLERRM; END`);
}

/** The sessions holding the sync lock: their pid, application_name (a sync's names its run), state and since when. */
export async function syncLockHolders(client: pg.ClientBase): Promise<{ pid: number; application_name: string | null; state: string | null; since: Date | null }[]> {
  const result = await client.query<{ pid: number; application_name: string | null; state: string | null; since: Date | null }>(
    `SELECT l.pid, a.application_name, a.state, coalesce(a.xact_start, a.backend_start) AS since
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${SYNC_LOCK_CLASS} AND l.objid = ${SYNC_LOCK_OBJECT} AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.pid <> pg_backend_pid()
      ORDER BY l.mode DESC`,
  );
  return result.rows;
}

export interface HistoryRow {
  sync_id: string;
  direction: string;
  status: string;
  started_at: Date;
  completed_at: Date | null;
  duration_seconds: number | null;
  total_rows: number | null;
  synced_rows: number | null;
  percent_complete: number | null;
  current_phase: string | null;
  current_table: string | null;
  triggered_by: string | null;
  source_db: string | null;
  target_db: string | null;
  error_message: string | null;
  tables_synced: unknown;
  verification_results: unknown;
}

export async function readHistory(client: pg.ClientBase, limit: number, direction?: string): Promise<HistoryRow[]> {
  const result = await client.query<HistoryRow>(
    `SELECT sync_id, direction, status, started_at, completed_at, duration_seconds, total_rows, synced_rows,
            percent_complete, current_phase, current_table, triggered_by, source_db, target_db, error_message,
            tables_synced, verification_results
       FROM ${HISTORY_TABLE}
      WHERE $2::text IS NULL OR direction = $2
      ORDER BY started_at DESC LIMIT $1`,
    [limit, direction ?? null],
  );
  return result.rows;
}
