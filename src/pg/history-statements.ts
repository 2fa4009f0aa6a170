// SQL for the archon_sync_history table: insert a run, update it, read recent runs.

import type pg from 'pg';

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
}

export async function historyTableExists(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ found: boolean }>(`SELECT to_regclass('${HISTORY_TABLE}') IS NOT NULL AS found`);
  return result.rows[0]?.found === true;
}

/** Inserts the `running` row; if another run took the same second's id, suffixes `_2`, `_3`, … Returns the id used. */
export async function insertHistoryRow(client: pg.ClientBase, start: HistoryRowStart): Promise<string> {
  for (let attempt = 1; attempt <= 50; attempt++) {
    const syncId = attempt === 1 ? start.syncId : `${start.syncId}_${attempt}`;
    const result = await client.query(
      `INSERT INTO ${HISTORY_TABLE}
         (sync_id, direction, status, current_phase, percent_complete, triggered_by, source_db, target_db, metadata, started_at)
       VALUES ($1, $2, 'running', 'validation', 0, $3, $4, $5, $6, now())
       ON CONFLICT (sync_id) DO NOTHING`,
      [syncId, start.direction, start.triggeredBy, start.sourceDb, start.targetDb, JSON.stringify(start.metadata)],
    );
    if (result.rowCount === 1) return syncId;
  }
  throw new Error(`could not find a free sync id after ${start.syncId}`);
}

export async function updateHistoryRow(client: pg.ClientBase, syncId: string, fields: HistoryFields): Promise<void> {
  const entries = (Object.entries(fields) as [string, unknown][]).filter(([key, value]) => UPDATABLE.has(key) && value !== undefined);
  if (entries.length === 0) return;
  const sets = entries.map(([key], index) => `${key} = $${index + 2}${JSON_COLUMNS.has(key) ? '::jsonb' : ''}`);
  const values = entries.map(([key, value]) => (JSON_COLUMNS.has(key) && value !== null ? JSON.stringify(value) : value));
  await client.query(`UPDATE ${HISTORY_TABLE} SET ${sets.join(', ')}, updated_at = now() WHERE sync_id = $1`, [syncId, ...values]);
}

/**
 * Settles rows of archon-sync runs still marked `running`: each recorded its target transaction id, and
 * txid_status() tells whether that transaction committed (the run died after COMMIT, before its last history
 * write) or not. Only correct while the caller holds the sync advisory lock: then no other run is alive. Rows
 * other writers (Archon's own scripts) left `running` are not ours to judge and are left alone.
 */
export async function settleAbandonedRuns(client: pg.ClientBase, exceptSyncId: string): Promise<number> {
  const result = await client.query(
    `WITH abandoned AS (
       SELECT sync_id, CASE WHEN metadata->>'target_xid' ~ '^[0-9]+$'
                            THEN txid_status((metadata->>'target_xid')::bigint) END AS outcome
         FROM ${HISTORY_TABLE}
        WHERE status = 'running' AND sync_id <> $1 AND metadata->>'tool' = 'archon-sync')
     UPDATE ${HISTORY_TABLE} h
        SET status = CASE WHEN a.outcome = 'committed' THEN 'completed' ELSE 'failed' END,
            completed_at = coalesce(h.completed_at, now()),
            percent_complete = CASE WHEN a.outcome = 'committed' THEN 100 ELSE h.percent_complete END,
            error_message = CASE
              WHEN a.outcome = 'committed' THEN NULL
              WHEN a.outcome = 'aborted' OR a.outcome = 'in progress'
                THEN 'the run ended without recording its outcome (process killed or connection lost); nothing it did was committed'
              ELSE 'the run ended without recording its outcome, and whether it committed can no longer be told' END,
            metadata = h.metadata || jsonb_build_object('outcome_recorded_by_a_later_run', true)
       FROM abandoned a
      WHERE h.sync_id = a.sync_id`,
    [exceptSyncId],
  );
  return result.rowCount ?? 0;
}

/** The most recent run still marked running (for the "another sync is running" message). */
export async function findRunningSyncId(client: pg.ClientBase): Promise<string | undefined> {
  if (!(await historyTableExists(client))) return undefined;
  const result = await client.query<{ sync_id: string }>(
    `SELECT sync_id FROM ${HISTORY_TABLE} WHERE status = 'running' ORDER BY started_at DESC LIMIT 1`,
  );
  return result.rows[0]?.sync_id;
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
