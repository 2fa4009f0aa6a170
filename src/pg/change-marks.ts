// Change marks: which rows may have changed since a committed sync, told from transaction ids without reading them.
//
// Every new row version carries the id of the transaction that wrote it (xmin). A row whose xmin is older
// than the oldest transaction still running when a snapshot was taken was committed before that snapshot and
// has not been rewritten since (an UPDATE writes a new version with a new xmin). So after a sync from source
// snapshot S into target transaction X, a source row older than S's xmin is the version the sync saw, and a
// target row written by X, or older than the oldest transaction running when X committed, is the version the
// sync left. Only the other rows need their digests computed.

import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { columnTypesCte } from './column-types.js';
import { HISTORY_TABLE } from './history-statements.js';
import { quoteLiteral, quoteTextArray } from './quote.js';

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
  /** What defines the tables' values, read in the same statement as `snapshot`, when it was asked for. */
  definitions?: DefinitionMarks | undefined;
}

/**
 * Catalog rows carry an xmin too. A value can change without its row being written: a column dropped and
 * added again with a constant default (the value then lives in pg_attribute), a table swapped in by RENAME, an
 * enum label renamed, a database created again from another template. Each of these writes a catalog row.
 */
export interface DefinitionMarks {
  /** xmin of current_database()'s pg_database row: a database dropped and created again, even under its old oid and name, has a new row. */
  database: string;
  /** By table name. */
  tables: Record<string, TableDefinitionMarks>;
}

export interface TableDefinitionMarks {
  /** The table's oid: a table put in its place (RENAME, DROP and CREATE) has another. */
  oid: number;
  /**
   * xmin of the table's pg_class row: RENAME, TRUNCATE and rewrites (new storage), and most ALTER TABLE write it.
   * VACUUM, ANALYZE and CREATE INDEX update it in place (no new xmin), and freezing keeps the raw xmin, so none
   * of them counts as a change.
   */
  relation: string;
  /**
   * The distinct xmins of the other catalog rows that say what the table's stored bytes mean: its pg_attribute
   * rows, dropped ones too (ADD and DROP COLUMN, a constant default's attmissingval), its pg_attrdef rows; and for
   * every type its columns are built from (columnTypesCte) the pg_type row, an enum's pg_enum rows, a domain's
   * pg_constraint rows, a composite's pg_class and pg_attribute rows and a range's pg_range row.
   */
  xmins: string[];
}

/** Which tables' definitions to read with the mark: by name, in one schema. */
export interface DefinitionsOf {
  schema: string;
  tables: readonly string[];
}

const MARK_COLUMNS = `pg_catalog.pg_current_snapshot()::text AS snapshot, pg_catalog.pg_postmaster_start_time()::text AS started_at,
            (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) AS system,
            (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS timeline,
            (SELECT oid::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS database`;

// The definitions in the statement that takes the snapshot they are judged by: on the target (read committed)
// that is after the run's table locks, so no ALTER TABLE can slip in between the reading and the comparison.
const MARK_WITH_DEFINITIONS_SQL = `
WITH RECURSIVE sel AS (
  SELECT c.oid, c.relname, c.xmin FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')
), ${columnTypesCte('SELECT oid FROM sel')},
types AS (SELECT DISTINCT typ FROM column_types),
type_marks(typ, x) AS (
  SELECT t.oid, t.xmin::text FROM pg_catalog.pg_type t WHERE t.oid IN (SELECT typ FROM types)
  UNION ALL SELECT e.enumtypid, e.xmin::text FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT typ FROM types)
  UNION ALL SELECT k.contypid, k.xmin::text FROM pg_catalog.pg_constraint k WHERE k.contypid IN (SELECT typ FROM types)
  UNION ALL SELECT t.oid, r.xmin::text FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class r ON r.oid = t.typrelid WHERE t.oid IN (SELECT typ FROM types)
  UNION ALL SELECT t.oid, f.xmin::text FROM pg_catalog.pg_type t JOIN pg_catalog.pg_attribute f ON f.attrelid = t.typrelid AND f.attnum > 0
             WHERE t.oid IN (SELECT typ FROM types)
  UNION ALL SELECT g.rngtypid, g.xmin::text FROM pg_catalog.pg_range g WHERE g.rngtypid IN (SELECT typ FROM types)
), marks(relid, x) AS (
  SELECT a.attrelid, a.xmin::text FROM pg_catalog.pg_attribute a WHERE a.attrelid IN (SELECT oid FROM sel) AND a.attnum > 0
  UNION ALL SELECT d.adrelid, d.xmin::text FROM pg_catalog.pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM sel)
  UNION ALL SELECT c.relid, m.x FROM column_types c JOIN type_marks m ON m.typ = c.typ
)
SELECT ${MARK_COLUMNS},
       (SELECT xmin::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS database_xmin,
       (SELECT coalesce(json_object_agg(s.relname, json_build_object('oid', s.oid::int8, 'relation', s.xmin::text, 'xmins', coalesce(m.xmins, '{}'))), '{}')
          FROM sel s LEFT JOIN (SELECT relid, array_agg(DISTINCT x) AS xmins FROM marks GROUP BY relid) m ON m.relid = s.oid) AS tables`;

interface MarkRow {
  snapshot: string; system: string; timeline: number; database: string; started_at: string;
  database_xmin?: string; tables?: Record<string, TableDefinitionMarks>;
}

/** A text[] literal of `values`, for statements sent without parameters (one message with others). */
/**
 * The statement readServerMark sends, with its values as literals, for a caller that sends it in one message
 * with others (runBatch); read its reply with serverMarkFrom.
 */
export function serverMarkStatement(definitionsOf?: DefinitionsOf): string {
  if (!definitionsOf) return `SELECT ${MARK_COLUMNS}`;
  return MARK_WITH_DEFINITIONS_SQL.replace('$1', () => quoteLiteral(definitionsOf.schema)).replace('$2::text[]', () => quoteTextArray(definitionsOf.tables));
}

/** The mark in a reply to serverMarkStatement. */
export function serverMarkFrom(result: pg.QueryResult | undefined): ServerMark {
  const row = result?.rows[0] as MarkRow | undefined;
  if (!row) throw new Error('reading the server identity returned no row');
  return {
    identity: { system: row.system, timeline: Number(row.timeline), database: row.database }, snapshot: row.snapshot, startedAt: row.started_at,
    definitions: row.database_xmin !== undefined && row.tables ? { database: row.database_xmin, tables: row.tables } : undefined,
  };
}

/**
 * The server's identity and the snapshot of the caller's transaction, in one round trip, with the definitions
 * of `definitionsOf` when asked. Needs PostgreSQL 13 (pg_current_snapshot) and the right to call
 * pg_control_system() and pg_control_checkpoint(); check ServerInfo.versionNum and identityReadable first, since
 * a failing statement would end the transaction.
 */
export async function readServerMark(client: pg.ClientBase, definitionsOf?: DefinitionsOf): Promise<ServerMark> {
  const result = definitionsOf
    ? await client.query<MarkRow>(MARK_WITH_DEFINITIONS_SQL, [definitionsOf.schema, definitionsOf.tables])
    : await client.query<MarkRow>(`SELECT ${MARK_COLUMNS}`);
  return serverMarkFrom(result);
}

/** The bounds of a pg_snapshot text: xmin (oldest transaction still running) and xmax (next id to be assigned). */
export function snapshotBounds(snapshot: string): { xmin: bigint; xmax: bigint } {
  const match = /^(\d+):(\d+):/.exec(snapshot);
  if (!match) throw new Error(`not a snapshot: ${snapshot}`);
  return { xmin: BigInt(match[1] ?? '0'), xmax: BigInt(match[2] ?? '0') };
}

const XID_SPACE = 2n ** 32n;
const FIRST_NORMAL_XID = 3n;
/** Transaction ids compare correctly only within half the 32-bit space; marks older than that are not trusted. */
export const MAX_MARK_AGE = 2n ** 31n;

/** Rows written since `since`, judged against the caller's snapshot xmax `now` (both 64-bit ids). */
export interface ChangedSince {
  now: bigint;
  since: bigint;
  /** Rows this transaction wrote are the sync's own, not changes: the target's X. */
  ownXid?: bigint | undefined;
}

/** The window a mark spans, refused when ids that far apart no longer compare correctly. */
function markWindow(mark: ChangedSince): bigint {
  const window = mark.now - mark.since;
  if (window < 0n || window >= MAX_MARK_AGE) throw new Error(`a change mark ${window} transactions old cannot be trusted`);
  return window;
}

/**
 * A boolean SQL expression over row alias `alias`: true when the row may have been written at or after `since`.
 * A row's xmin is 32 bits; its distance back from `now`, modulo 2^32, is exact for every id less than 2^31
 * old (the caller checks now − since < 2^31), and a row frozen long ago whose id wrapped around may be taken
 * for a new one, which only costs its digest. Never the other way round.
 */
export function changedSinceSql(alias: string, mark: ChangedSince): string {
  const window = markWindow(mark);
  const distance = `((${mark.now}::int8 - ${alias}.xmin::text::int8) % ${XID_SPACE} + ${XID_SPACE}) % ${XID_SPACE}`;
  const written = `${distance} <= ${window}`;
  return mark.ownXid === undefined ? `(${written})` : `(${alias}.xmin <> '${mark.ownXid % XID_SPACE}'::xid AND ${written})`;
}

/**
 * changedSinceSql's judgment of one 32-bit xmin (as text), for catalog rows read as values. Ids below 3 are never
 * a transaction's (1 wrote the bootstrap catalog, 2 marks a tuple frozen before 9.4; the counter skips them when
 * it wraps), so they are old even where the modulo arithmetic would put them just past a wrap-around.
 */
export function writtenSince(xmin: string, mark: ChangedSince): boolean {
  const window = markWindow(mark);
  const id = BigInt(xmin);
  if (id < FIRST_NORMAL_XID || (mark.ownXid !== undefined && id === mark.ownXid % XID_SPACE)) return false;
  return (((mark.now - id) % XID_SPACE) + XID_SPACE) % XID_SPACE <= window;
}

/** The identity of the server the statement runs on, as a watermark records it (ServerIdentity, as jsonb). */
const OWN_IDENTITY_SQL = `pg_catalog.jsonb_build_object(
        'system', (SELECT system_identifier::text FROM pg_catalog.pg_control_system()),
        'timeline', (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()),
        'database', (SELECT oid::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))`;

/**
 * Per source, the newest watermark (history metadata `watermark`) of a committed archon-sync run into this very
 * target, read in the caller's transaction: the target's identity is computed where the statement runs, so it needs
 * no parameter and can share a message with the marks (the source's identity is picked from the reply, by
 * latestWatermarkFrom). Every guard sits inside nested CASEs, evaluated in order, so no row (one copied from
 * another cluster, one edited by hand, an id from the future) can make txid_status() fail and end the transaction.
 * Needs the rights serverMarkStatement needs, and the history table readable.
 */
export function latestWatermarksStatement(): string {
  return `SELECT DISTINCT ON (w->'source'->'identity') sync_id, w->'source'->'identity' AS source_identity, w AS watermark
       FROM (SELECT sync_id, metadata->'watermark' AS w FROM ${HISTORY_TABLE} WHERE metadata->>'tool' = 'archon-sync') h
      WHERE CASE WHEN w->'target'->'identity' = ${OWN_IDENTITY_SQL}
                  AND w->'target'->>'xid' ~ '^[0-9]{1,18}$'
                 THEN CASE WHEN (w->'target'->>'xid')::int8 < pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())
                           THEN pg_catalog.txid_status((w->'target'->>'xid')::int8) = 'committed'
                           ELSE false END
                 ELSE false END
      ORDER BY w->'source'->'identity', CASE WHEN w->'target'->>'xid' ~ '^[0-9]{1,18}$' THEN (w->'target'->>'xid')::int8 END DESC NULLS LAST`;
}

/** The newest watermark from `source` in a reply to latestWatermarksStatement, if there is one. */
export function latestWatermarkFrom(result: pg.QueryResult | undefined, source: ServerIdentity): { syncId: string; watermark: unknown } | undefined {
  const rows = (result?.rows ?? []) as { sync_id: string; source_identity: unknown; watermark: unknown }[];
  // jsonb's equality, as the statement used to test it: same keys, same values, same types.
  const row = rows.find((r) => isDeepStrictEqual(r.source_identity, { ...source }));
  return row ? { syncId: row.sync_id, watermark: row.watermark } : undefined;
}
