// Catalog facts of one database for the tables we copy, read from pg_catalog in one round trip.

import type pg from 'pg';
import { columnTypesCte, describeType, TYPE_ROWS_SQL, withoutOwnSchema, type TypeRow } from './column-types.js';
import { quoteLiteral, quoteTable, quoteTextArray } from './quote.js';

/** What sits between us and the server, as far as can be told from the outside. */
export type PoolerGuess = 'direct' | 'transaction pooler' | 'session pooler' | 'pooler or proxy';

/** Identifies the server and database, so we can refuse to copy a database onto itself. */
export interface ServerInfo {
  version: string;
  user: string;
  database: string;
  /** Same value for two connections to the same database of the same running server (through a pooler or not). */
  identity: string;
  ssl: boolean;
  /** `server_version`, e.g. 15.14. */
  versionShort: string;
  /** The port the server itself listens on (null over a Unix socket). */
  port: number | null;
  /** The backend serving this connection (to cancel or end it from another connection). */
  backendPid: number;
  /** How the connection reaches the server: set by the engine, which knows the port we dialled. */
  pooler: PoolerGuess | undefined;
  /** `server_version_num`, e.g. 150014. */
  versionNum: number;
  /** pg_control_system() and pg_control_checkpoint() may be called: the server's identity can be read (change marks). */
  identityReadable: boolean;
  extensions: Record<string, { version: string; schema: string }>;
}

export interface ColumnInfo {
  name: string;
  /** format_type() without the type's own schema, so `extensions.vector(3)` and `vector(3)` compare equal. */
  type: string;
  /**
   * What the type's values mean (describeType): the type's name for a plain type, with enum labels, a domain's
   * base type, composite fields or an array's element spelled out. Two sides agree on values only where equal.
   */
  definition: string;
  notNull: boolean;
  hasDefault: boolean;
  generated: boolean;
  /** Why this column cannot travel in binary COPY between two databases, if it cannot. */
  binaryUnsafeReason: string | undefined;
}

export interface TableInfo {
  oid: number;
  schema: string;
  name: string;
  /** Quoted, schema-qualified name for SQL. */
  sql: string;
  kind: string;
  owner: string;
  /** The connected role is the owner or a member of the owning role (needed to drop indexes, disable triggers). */
  ownedByUs: boolean;
  /** Row-level security would filter our reads or block COPY FROM. */
  rowSecurityActive: boolean;
  /** Tables that inherit from this one: their rows are not this table's, but `count(*)` would include them. */
  inheritedBy: string[];
  /** pg_table_size: what a full copy of the table roughly moves (for progress weights and estimates). */
  bytes: number;
  columns: ColumnInfo[];
  /** Primary-key columns in key order; empty when the table has none. */
  primaryKey: string[];
}

export interface ForeignKeyInfo {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
  /** pg_get_constraintdef(): enough to put the constraint back exactly. */
  definition: string;
  validated: boolean;
}

export interface IndexInfo {
  name: string;
  schema: string;
  table: string;
  definition: string;
  /** Access method (btree, gin, hnsw, ivfflat, …): builds differ in cost by orders of magnitude. */
  method: string;
  valid: boolean;
  /** Backs a primary key, unique or exclusion constraint: kept, never dropped. */
  backsConstraint: boolean;
  /** Facts pg_get_indexdef() does not carry, put back after a rebuild. */
  replicaIdentity: boolean;
  clustered: boolean;
  comment: string | null;
  /** Tablespace of the index when it is not the database default. */
  tablespace: string | null;
  /** Per-column statistics targets set with ALTER INDEX … ALTER COLUMN n SET STATISTICS. */
  statistics: { column: number; target: number }[];
}

export type TriggerMode = 'O' | 'D' | 'R' | 'A';

export interface TriggerInfo {
  name: string;
  schema: string;
  table: string;
  /** pg_trigger.tgenabled: O fires normally, D disabled, R only in replica mode, A always. */
  mode: TriggerMode;
}

export interface SequenceInfo {
  schema: string;
  table: string;
  column: string;
  /** Quoted, schema-qualified sequence name. */
  sequence: string;
  /** Owned by the column (serial, identity) or only named in its DEFAULT nextval(…). */
  owned: boolean;
  increment: number;
  /** The last value handed out, or null when never called or not readable by this role. */
  lastValue: number | null;
}

/** The catalog facts of one side, for the selected tables. */
export interface Catalog {
  server: ServerInfo;
  tables: Map<string, TableInfo>;
  /** Foreign keys where either end is a selected table. */
  foreignKeys: ForeignKeyInfo[];
  indexes: IndexInfo[];
  triggers: TriggerInfo[];
  sequences: SequenceInfo[];
}

// Binary COPY embeds type OIDs inside arrays and composites; OIDs of user types differ between databases.
const FIRST_USER_OID = 16384;

interface ColumnRow {
  name: string; formatted: string; typschema: string; type_oid: number; notnull: boolean; hasdef: boolean; generated: boolean;
  typtype: string; has_send: boolean; has_recv: boolean; elem_oid: number; elem_typtype: string | null; base_typtype: string | null;
}

interface CatalogDocument {
  server: {
    version: string; usr: string; db: string; identity: string; ssl: boolean | null; short: string; port: number | null; pid: number;
    version_num: number; identity_readable: boolean;
  };
  extensions: { name: string; version: string; schema: string }[];
  tables: {
    oid: number; schema: string; name: string; kind: string; owner: string; owned_by_us: boolean; rls_active: boolean;
    bytes: number; inherited_by: string[]; primary_key: string[]; columns: ColumnRow[];
  }[];
  foreign_keys: {
    name: string; child_schema: string; child_table: string; parent_schema: string; parent_table: string;
    columns: string[]; ref_columns: string[]; definition: string; validated: boolean;
  }[];
  indexes: {
    name: string; schema: string; table: string; definition: string; method: string; valid: boolean; backs_constraint: boolean;
    replident: boolean; clustered: boolean; comment: string | null; tablespace: string | null; statistics: { column: number; target: number }[];
  }[];
  triggers: { name: string; schema: string; table: string; mode: TriggerMode }[];
  types: TypeRow[];
  sequences: { schema: string; table: string; column: string; seq_schema: string; seq_name: string; owned: boolean; increment: string; last_value: string | null }[];
}

// One statement for everything, so reading a catalog costs one round trip however many tables, indexes or
// sequences there are. Sequences are those owned by a column (serial, identity) and those a column's DEFAULT
// names without owning; pg_sequences shows last_value as NULL where a role may not read it, instead of failing.
const CATALOG_SQL = `
WITH RECURSIVE sel AS (
  SELECT c.oid, c.relname, c.relkind, c.relowner, n.nspname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')
), seqs AS (
  SELECT d.refobjid AS tableoid, d.refobjsubid AS attnum, d.objid AS seqoid, true AS owned
    FROM pg_depend d
   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
     AND d.refobjid IN (SELECT oid FROM sel)
  UNION
  SELECT ad.adrelid, ad.adnum, d.refobjid, false
    FROM pg_attrdef ad JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
     AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
    JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
   WHERE ad.adrelid IN (SELECT oid FROM sel)
), ${columnTypesCte('SELECT oid FROM sel')}
SELECT json_build_object(
  'server', (SELECT json_build_object(
      'version', version(), 'usr', current_user, 'db', current_database(),
      'identity', pg_postmaster_start_time()::text || '/' || (SELECT oid FROM pg_database WHERE datname = current_database())::text
                  || '/' || coalesce(inet_server_addr()::text, 'socket'),
      'ssl', (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()),
      'short', current_setting('server_version'), 'port', inet_server_port(), 'pid', pg_backend_pid(),
      'version_num', current_setting('server_version_num')::int,
      'identity_readable', has_function_privilege('pg_control_system()', 'EXECUTE') AND has_function_privilege('pg_control_checkpoint()', 'EXECUTE'))),
  'extensions', (SELECT coalesce(json_agg(json_build_object('name', e.extname, 'version', e.extversion, 'schema', n.nspname)), '[]')
                   FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace),
  'tables', (SELECT coalesce(json_agg(json_build_object(
      'oid', s.oid::int8, 'schema', s.nspname, 'name', s.relname, 'kind', s.relkind,
      'owner', pg_get_userbyid(s.relowner), 'owned_by_us', pg_has_role(s.relowner, 'USAGE'),
      'rls_active', row_security_active(s.oid), 'bytes', pg_table_size(s.oid),
      'inherited_by', array(SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = s.oid ORDER BY 1),
      'primary_key', coalesce((SELECT array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)
                     FROM pg_constraint con WHERE con.contype = 'p' AND con.conrelid = s.oid), '{}'),
      'columns', (SELECT coalesce(json_agg(json_build_object(
          'name', a.attname, 'formatted', format_type(a.atttypid, a.atttypmod), 'typschema', tn.nspname, 'type_oid', a.atttypid::int8,
          'notnull', a.attnotnull, 'hasdef', a.atthasdef OR a.attidentity <> '', 'generated', a.attgenerated <> '',
          'typtype', t.typtype,
          'has_send', coalesce(bt.typsend, t.typsend) <> 0, 'has_recv', coalesce(bt.typreceive, t.typreceive) <> 0,
          'elem_oid', coalesce(bt.typelem, t.typelem)::int, 'elem_typtype', et.typtype, 'base_typtype', bt.typtype) ORDER BY a.attnum), '[]')
          FROM pg_attribute a
          JOIN pg_type t ON t.oid = a.atttypid
          JOIN pg_namespace tn ON tn.oid = t.typnamespace
          LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
          LEFT JOIN pg_type et ON et.oid = coalesce(bt.typelem, t.typelem) AND coalesce(bt.typelem, t.typelem) <> 0
         WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped))), '[]') FROM sel s),
  'foreign_keys', (SELECT coalesce(json_agg(json_build_object(
      'name', con.conname, 'child_schema', cn.nspname, 'child_table', cc.relname,
      'parent_schema', pn.nspname, 'parent_table', pc.relname,
      'columns', array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
      'ref_columns', array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
      'definition', pg_get_constraintdef(con.oid), 'validated', con.convalidated)
      ORDER BY cn.nspname, cc.relname, con.conname), '[]')
      FROM pg_constraint con
      JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
      JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
     WHERE con.contype = 'f' AND (con.conrelid IN (SELECT oid FROM sel) OR con.confrelid IN (SELECT oid FROM sel))),
  'indexes', (SELECT coalesce(json_agg(json_build_object(
      'name', ic.relname, 'schema', n.nspname, 'table', tc.relname, 'definition', pg_get_indexdef(i.indexrelid),
      'method', am.amname, 'valid', i.indisvalid,
      'backs_constraint', EXISTS (SELECT 1 FROM pg_constraint con
                           WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')),
      'replident', i.indisreplident, 'clustered', i.indisclustered,
      'comment', obj_description(i.indexrelid, 'pg_class'),
      'tablespace', (SELECT spcname FROM pg_tablespace WHERE oid = ic.reltablespace),
      'statistics', (SELECT coalesce(json_agg(json_build_object('column', a.attnum, 'target', a.attstattarget) ORDER BY a.attnum), '[]')
                       FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0))
      ORDER BY tc.relname, ic.relname), '[]')
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_class tc ON tc.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = ic.relnamespace
      JOIN pg_am am ON am.oid = ic.relam
     WHERE i.indrelid IN (SELECT oid FROM sel)),
  'triggers', (SELECT coalesce(json_agg(json_build_object('name', t.tgname, 'schema', s.nspname, 'table', s.relname, 'mode', t.tgenabled)
      ORDER BY s.relname, t.tgname), '[]')
      FROM pg_trigger t JOIN sel s ON s.oid = t.tgrelid WHERE NOT t.tgisinternal),
  'types', ${TYPE_ROWS_SQL},
  'sequences', (SELECT coalesce(json_agg(json_build_object(
      'schema', s.nspname, 'table', s.relname, 'column', a.attname, 'seq_schema', sn.nspname, 'seq_name', sc.relname,
      'owned', q.owned, 'increment', ps.increment_by::text, 'last_value', ps.last_value::text)
      ORDER BY s.relname, a.attname, sc.relname), '[]')
      FROM (SELECT tableoid, attnum, seqoid, bool_or(owned) AS owned FROM seqs GROUP BY 1, 2, 3) q
      JOIN sel s ON s.oid = q.tableoid
      JOIN pg_attribute a ON a.attrelid = q.tableoid AND a.attnum = q.attnum
      JOIN pg_class sc ON sc.oid = q.seqoid AND sc.relkind = 'S' JOIN pg_namespace sn ON sn.oid = sc.relnamespace
      LEFT JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = sc.relname)
) AS doc`;

function binaryUnsafeReason(row: ColumnRow): string | undefined {
  if (!row.has_send || !row.has_recv) return `type ${row.formatted} has no binary send/receive functions`;
  const typtype = row.base_typtype ?? row.typtype;
  if (typtype === 'c') return `composite type ${row.formatted} embeds type OIDs in binary COPY`;
  if (row.elem_oid !== 0 && (row.elem_oid >= FIRST_USER_OID || row.elem_typtype === 'c')) {
    return `array type ${row.formatted} embeds its element type's OID in binary COPY`;
  }
  return undefined;
}

/** Reads everything the plan needs about `tables` in `schema`, in the caller's transaction and snapshot. */
export async function readCatalog(client: pg.ClientBase, schema: string, tables: readonly string[]): Promise<Catalog> {
  const catalog = catalogFrom(await client.query(catalogStatement(schema, tables)));
  if (!catalog) throw new Error('the catalog query returned no row');
  return catalog;
}

/**
 * readCatalog's statement with its values as literals, for a caller that sends it in one message with others
 * (runBatch). `onlyIf`: an SQL condition checked first; when false the catalog is not read (no catalog lock is
 * waited for) and catalogFrom gives undefined.
 */
export function catalogStatement(schema: string, tables: readonly string[], onlyIf?: string): string {
  const statement = CATALOG_SQL.replace('$1', () => quoteLiteral(schema)).replace('$2::text[]', () => quoteTextArray(tables));
  return onlyIf ? `SELECT c.doc FROM (${statement}) c WHERE ${onlyIf}` : statement;
}

/** The catalog in a reply to catalogStatement; undefined when its condition held it back. */
export function catalogFrom(result: pg.QueryResult | undefined): Catalog | undefined {
  const doc = (result?.rows[0] as { doc?: CatalogDocument } | undefined)?.doc;
  if (!doc) return undefined;
  const { server } = doc;
  const types = new Map(doc.types.map((t) => [t.oid, t]));
  return {
    server: {
      version: server.version,
      user: server.usr,
      database: server.db,
      identity: server.identity,
      ssl: server.ssl === true,
      versionShort: server.short,
      port: server.port,
      backendPid: server.pid,
      pooler: undefined,
      versionNum: server.version_num,
      identityReadable: server.identity_readable,
      extensions: Object.fromEntries(doc.extensions.map((e) => [e.name, { version: e.version, schema: e.schema }])),
    },
    tables: new Map(doc.tables.map((t) => [t.name, {
      oid: t.oid,
      schema: t.schema,
      name: t.name,
      sql: quoteTable(t.schema, t.name),
      kind: t.kind,
      owner: t.owner,
      ownedByUs: t.owned_by_us,
      rowSecurityActive: t.rls_active,
      inheritedBy: t.inherited_by,
      bytes: Number(t.bytes),
      columns: t.columns.map((c) => ({
        name: c.name,
        type: withoutOwnSchema(c.formatted, c.typschema),
        definition: describeType({ oid: c.type_oid, name: c.formatted, schema: c.typschema }, types),
        notNull: c.notnull,
        hasDefault: c.hasdef,
        generated: c.generated,
        binaryUnsafeReason: binaryUnsafeReason(c),
      })),
      primaryKey: t.primary_key,
    }])),
    foreignKeys: doc.foreign_keys.map((r) => ({
      name: r.name,
      schema: r.child_schema,
      table: r.child_table,
      columns: r.columns,
      refSchema: r.parent_schema,
      refTable: r.parent_table,
      refColumns: r.ref_columns,
      definition: r.definition,
      validated: r.validated,
    })),
    indexes: doc.indexes.map((r) => ({
      name: r.name,
      schema: r.schema,
      table: r.table,
      definition: r.definition,
      method: r.method,
      valid: r.valid,
      backsConstraint: r.backs_constraint,
      replicaIdentity: r.replident,
      clustered: r.clustered,
      comment: r.comment,
      tablespace: r.tablespace,
      statistics: r.statistics,
    })),
    triggers: doc.triggers,
    sequences: doc.sequences.map((r) => ({
      schema: r.schema,
      table: r.table,
      column: r.column,
      sequence: quoteTable(r.seq_schema, r.seq_name),
      owned: r.owned,
      increment: Number(r.increment),
      lastValue: r.last_value === null ? null : Number(r.last_value),
    })),
  };
}

/** Row counts of tables in one statement, in the caller's snapshot. */
export async function countRows(client: pg.ClientBase, tables: readonly string[]): Promise<number[]> {
  if (tables.length === 0) return [];
  return countsFrom(await client.query(countRowsStatement(tables)), tables);
}

/** countRows' statement, for a caller that sends it in one message with others; read its reply with countsFrom. */
export function countRowsStatement(tables: readonly string[]): string {
  // ONLY: rows of tables that inherit from ours are not ours, and COPY TO does not send them either.
  return `SELECT ${tables.map((sql, i) => `(SELECT count(*) FROM ONLY ${sql}) AS n${i}`).join(', ')}`;
}

export function countsFrom(result: pg.QueryResult | undefined, tables: readonly string[]): number[] {
  const row = (result?.rows[0] ?? {}) as Record<string, string>;
  return tables.map((_, i) => Number(row[`n${i}`] ?? 0));
}
