// Change marks: which rows may have changed since a committed sync, told from transaction ids without reading them.
//
// Every new row version carries the id of the transaction that wrote it (xmin). A row whose xmin is older
// than the oldest transaction still running when a snapshot was taken was committed before that snapshot and
// has not been rewritten since (an UPDATE writes a new version with a new xmin). So after a sync from source
// snapshot S into target transaction X, a source row older than S's xmin is the version the sync saw, and a
// target row written by X, or older than the oldest transaction running when X committed, is the version the
// sync left. Only the other rows need their digests computed.

import type pg from 'pg';
import { HISTORY_TABLE } from './history-statements.js';

/** What must be the same again for marks taken on a server to mean anything there later. */
export interface ServerIdentity {
  /** pg_control_system().system_identifier: a different cluster (a logical copy, a new container) differs. */
  system: string;
  /** pg_control_checkpoint().timeline_id: a point-in-time restore or a promotion starts a new timeline. */
  timeline: number;
  /** The database's oid: another database of the same cluster has a history of its own. */
  database: string;
}

export interface ServerMark {
  identity: ServerIdentity;
  /** pg_current_snapshot() of the run's transaction, as text (`xmin:xmax:xip,…`, 64-bit ids). */
  snapshot: string;
  /**
   * pg_postmaster_start_time(). Putting back a copy of the data directory (a volume snapshot of a local Supabase)
   * rewinds transaction ids without a new timeline, and always means a restart.
   */
  startedAt: string;
}

/**
 * The server's identity and the snapshot of the caller's transaction, in one round trip. Needs PostgreSQL 13
 * (pg_current_snapshot) and the right to call pg_control_system() and pg_control_checkpoint(); check
 * ServerInfo.versionNum and identityReadable first, since a failing statement would end the transaction.
 */
export async function readServerMark(client: pg.ClientBase): Promise<ServerMark> {
  const result = await client.query<{ snapshot: string; system: string; timeline: number; database: string; started_at: string }>(
    `SELECT pg_catalog.pg_current_snapshot()::text AS snapshot, pg_catalog.pg_postmaster_start_time()::text AS started_at,
            (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) AS system,
            (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS timeline,
            (SELECT oid::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS database`,
  );
  const row = result.rows[0];
  if (!row) throw new Error('reading the server identity returned no row');
  return { identity: { system: row.system, timeline: Number(row.timeline), database: row.database }, snapshot: row.snapshot, startedAt: row.started_at };
}

/** The bounds of a pg_snapshot text: xmin (oldest transaction still running) and xmax (next id to be assigned). */
export function snapshotBounds(snapshot: string): { xmin: bigint; xmax: bigint } {
  const match = /^(\d+):(\d+):/.exec(snapshot);
  if (!match) throw new Error(`not a snapshot: ${snapshot}`);
  return { xmin: BigInt(match[1] ?? '0'), xmax: BigInt(match[2] ?? '0') };
}

const XID_SPACE = 2n ** 32n;
/** Transaction ids compare correctly only within half the 32-bit space; marks older than that are not trusted. */
export const MAX_MARK_AGE = 2n ** 31n;

/** Rows written since `since`, judged against the caller's snapshot xmax `now` (both 64-bit ids). */
export interface ChangedSince {
  now: bigint;
  since: bigint;
  /** Rows this transaction wrote are the sync's own, not changes: the target's X. */
  ownXid?: bigint | undefined;
}

/**
 * A boolean SQL expression over row alias `alias`: true when the row may have been written at or after `since`.
 * A row's xmin is 32 bits; its distance back from `now`, modulo 2^32, is exact for every id less than 2^31
 * old (the caller checks now − since < 2^31), and a row frozen long ago whose id wrapped around may be taken
 * for a new one, which only costs its digest. Never the other way round.
 */
export function changedSinceSql(alias: string, mark: ChangedSince): string {
  const window = mark.now - mark.since;
  if (window < 0n || window >= MAX_MARK_AGE) throw new Error(`a change mark ${window} transactions old cannot be trusted`);
  const distance = `((${mark.now}::int8 - ${alias}.xmin::text::int8) % ${XID_SPACE} + ${XID_SPACE}) % ${XID_SPACE}`;
  const written = `${distance} <= ${window}`;
  return mark.ownXid === undefined ? `(${written})` : `(${alias}.xmin <> '${mark.ownXid % XID_SPACE}'::xid AND ${written})`;
}

/**
 * The newest watermark (history metadata `watermark`) of a committed archon-sync run between these two servers,
 * read in the caller's transaction. Every guard sits inside nested CASEs, evaluated in order, so no row (one
 * copied from another cluster, one edited by hand, an id from the future) can make txid_status() fail and end
 * the transaction.
 */
export async function readLatestWatermark(client: pg.ClientBase, source: ServerIdentity, target: ServerIdentity): Promise<{ syncId: string; watermark: unknown } | undefined> {
  const result = await client.query<{ sync_id: string; watermark: unknown }>(
    `SELECT sync_id, w AS watermark
       FROM (SELECT sync_id, metadata->'watermark' AS w FROM ${HISTORY_TABLE} WHERE metadata->>'tool' = 'archon-sync') h
      WHERE CASE WHEN w->'source'->'identity' = $1::jsonb AND w->'target'->'identity' = $2::jsonb
                  AND w->'target'->>'xid' ~ '^[0-9]{1,18}$'
                 THEN CASE WHEN (w->'target'->>'xid')::int8 < pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())
                           THEN pg_catalog.txid_status((w->'target'->>'xid')::int8) = 'committed'
                           ELSE false END
                 ELSE false END
      ORDER BY CASE WHEN w->'target'->>'xid' ~ '^[0-9]{1,18}$' THEN (w->'target'->>'xid')::int8 END DESC NULLS LAST
      LIMIT 1`,
    [JSON.stringify(source), JSON.stringify(target)],
  );
  const row = result.rows[0];
  return row ? { syncId: row.sync_id, watermark: row.watermark } : undefined;
}
