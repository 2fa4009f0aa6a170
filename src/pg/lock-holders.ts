// Who holds a lock a statement of ours waited for in vain: read after the lock timeout, once our transaction is
// rolled back, so the blocking session can be named (pid, application_name, state, since when).

import type pg from 'pg';

export type LockMode = 'ACCESS SHARE' | 'SHARE ROW EXCLUSIVE' | 'ACCESS EXCLUSIVE';

// The lock modes (as pg_locks names them) that conflict with the one we asked for (PostgreSQL's conflict table).
const CONFLICTS: Record<LockMode, readonly string[]> = {
  'ACCESS SHARE': ['AccessExclusiveLock'],
  'SHARE ROW EXCLUSIVE': ['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  'ACCESS EXCLUSIVE': ['AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
};

export interface LockHolder {
  /** `schema.table` */
  table: string;
  /** The mode it holds, as pg_locks names it. */
  held: string;
  pid: number;
  applicationName: string;
  /** pg_stat_activity.state: `idle in transaction` is the usual culprit. */
  state: string | null;
  /** Since when its transaction (or session) runs. */
  since: Date | null;
}

/** The oldest session holding a lock on one of `tables` (quoted `"schema"."table"`) that conflicts with `mode`. */
export async function findLockHolder(client: pg.ClientBase, tables: readonly string[], mode: LockMode): Promise<LockHolder | undefined> {
  if (tables.length === 0) return undefined;
  const result = await client.query<{ table: string; held: string; pid: number; application_name: string | null; state: string | null; since: Date | null }>(
    `SELECT l.relation::regclass::text AS table, l.mode AS held, l.pid, a.application_name, a.state,
            coalesce(a.xact_start, a.backend_start) AS since
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.relation = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t)
        AND l.mode = ANY ($2::text[])
      ORDER BY a.xact_start NULLS LAST LIMIT 1`,
    [tables, CONFLICTS[mode]],
  );
  const row = result.rows[0];
  return row ? { table: row.table, held: row.held, pid: row.pid, applicationName: row.application_name ?? '', state: row.state, since: row.since } : undefined;
}
