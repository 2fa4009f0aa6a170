// Catalog queries: what one database holds for the tables we copy, read from pg_catalog into typed rows.

import type pg from 'pg';
import { quoteIdent, quoteTable } from './quote.js';

/** What sits between us and the server, as far as can be told from the outside. */
export type PoolerGuess = 'direct' | 'transaction pooler' | 'session pooler' | 'pooler or proxy';

/** Identifies the server and database, so we can refuse to copy a database onto itself. */
export interface ServerInfo {
  version: string;
  versionNum: number;
  user: string;
  database: string;
  /** Same value for two connections to the same database of the same running server (through a pooler or not). */
  identity: string;
  ssl: boolean;
  /** `server_version`, e.g. 15.14. */
  versionShort: string;
  /** The port the server itself listens on (null over a Unix socket). */
  port: number | null;
  /** How the connection reaches the server: set by the engine, which knows the port we dialled. */
  pooler: PoolerGuess | undefined;
  extensions: Record<string, { version: string; schema: string }>;
}

export interface ColumnInfo {
  name: string;
  /** format_type() without the type's own schema, so `extensions.vector(3)` and `vector(3)` compare equal. */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  generated: boolean;
  identity: boolean;
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
  method: string;
  valid: boolean;
  /** Backs a primary key, unique or exclusion constraint: kept, never dropped. */
  backsConstraint: boolean;
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

export async function readServerInfo(client: pg.ClientBase): Promise<ServerInfo> {
  const facts = await client.query<{
    version: string; version_num: string; usr: string; db: string; identity: string; ssl: boolean | null; short: string; port: number | null;
  }>(
    `SELECT version() AS version,
            current_setting('server_version_num') AS version_num,
            current_user AS usr,
            current_database() AS db,
            pg_postmaster_start_time()::text || '/' || (SELECT oid FROM pg_database WHERE datname = current_database())::text
              || '/' || coalesce(inet_server_addr()::text, 'socket') AS identity,
            (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl,
            current_setting('server_version') AS short, inet_server_port() AS port`,
  );
  const extensions = await client.query<{ extname: string; extversion: string; nspname: string }>(
    `SELECT e.extname, e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`,
  );
  const row = facts.rows[0];
  if (!row) throw new Error('server facts query returned no row');
  return {
    version: row.version,
    versionNum: Number(row.version_num),
    user: row.usr,
    database: row.db,
    identity: row.identity,
    ssl: row.ssl === true,
    versionShort: row.short,
    port: row.port,
    pooler: undefined,
    extensions: Object.fromEntries(extensions.rows.map((e) => [e.extname, { version: e.extversion, schema: e.nspname }])),
  };
}

interface TableRow {
  oid: number; nspname: string; relname: string; relkind: string; owner: string; owned_by_us: boolean; rls_active: boolean;
}

interface ColumnRow {
  attrelid: number; attname: string; formatted: string; typschema: string; attnotnull: boolean; atthasdef: boolean;
  generated: boolean; identity: boolean; typtype: string; has_send: boolean; has_recv: boolean;
  elem_oid: number; elem_typtype: string | null; base_typtype: string | null; base_oid: number;
}

// Binary COPY embeds type OIDs inside arrays and composites; OIDs of user types differ between databases.
const FIRST_USER_OID = 16384;

function binaryUnsafeReason(row: ColumnRow): string | undefined {
  if (!row.has_send || !row.has_recv) return `type ${row.formatted} has no binary send/receive functions`;
  const typtype = row.base_typtype ?? row.typtype;
  if (typtype === 'c') return `composite type ${row.formatted} embeds type OIDs in binary COPY`;
  if (row.elem_oid !== 0 && (row.elem_oid >= FIRST_USER_OID || row.elem_typtype === 'c')) {
    return `array type ${row.formatted} embeds its element type's OID in binary COPY`;
  }
  return undefined;
}

function withoutOwnSchema(formatted: string, schema: string): string {
  const prefix = `${quoteIdent(schema)}.`;
  const plain = `${schema}.`;
  if (formatted.startsWith(plain)) return formatted.slice(plain.length);
  if (formatted.startsWith(prefix)) return formatted.slice(prefix.length);
  return formatted;
}

async function readTables(client: pg.ClientBase, schema: string, names: readonly string[]): Promise<Map<string, TableInfo>> {
  const tables = await client.query<TableRow>(
    `SELECT c.oid::int AS oid, n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS owned_by_us, row_security_active(c.oid) AS rls_active
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`,
    [schema, names],
  );
  const oids = tables.rows.map((t) => t.oid);
  const columns = await client.query<ColumnRow>(
    `SELECT a.attrelid::int AS attrelid, a.attname, format_type(a.atttypid, a.atttypmod) AS formatted,
            tn.nspname AS typschema, a.attnotnull, a.atthasdef, a.attgenerated <> '' AS generated,
            a.attidentity <> '' AS identity, t.typtype,
            coalesce(bt.typsend, t.typsend) <> 0 AS has_send, coalesce(bt.typreceive, t.typreceive) <> 0 AS has_recv,
            coalesce(bt.typelem, t.typelem)::int AS elem_oid, et.typtype AS elem_typtype,
            bt.typtype AS base_typtype, coalesce(bt.oid, t.oid)::int AS base_oid
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
       LEFT JOIN pg_type et ON et.oid = coalesce(bt.typelem, t.typelem) AND coalesce(bt.typelem, t.typelem) <> 0
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const keys = await client.query<{ conrelid: number; columns: string[] }>(
    `SELECT con.conrelid::int AS conrelid,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
       FROM pg_constraint con WHERE con.contype = 'p' AND con.conrelid = ANY($1::oid[])`,
    [oids],
  );
  const primaryKeys = new Map(keys.rows.map((k) => [k.conrelid, k.columns]));
  const byOid = new Map<number, ColumnInfo[]>();
  for (const row of columns.rows) {
    const list = byOid.get(row.attrelid) ?? [];
    list.push({
      name: row.attname,
      type: withoutOwnSchema(row.formatted, row.typschema),
      notNull: row.attnotnull,
      hasDefault: row.atthasdef || row.identity,
      generated: row.generated,
      identity: row.identity,
      binaryUnsafeReason: binaryUnsafeReason(row),
    });
    byOid.set(row.attrelid, list);
  }
  return new Map(tables.rows.map((t) => [t.relname, {
    oid: t.oid,
    schema: t.nspname,
    name: t.relname,
    sql: quoteTable(t.nspname, t.relname),
    kind: t.relkind,
    owner: t.owner,
    ownedByUs: t.owned_by_us,
    rowSecurityActive: t.rls_active,
    columns: byOid.get(t.oid) ?? [],
    primaryKey: primaryKeys.get(t.oid) ?? [],
  }]));
}

async function readForeignKeys(client: pg.ClientBase, oids: number[]): Promise<ForeignKeyInfo[]> {
  const result = await client.query<{
    conname: string; child_schema: string; child_table: string; parent_schema: string; parent_table: string;
    columns: string[]; ref_columns: string[]; definition: string; convalidated: boolean;
  }>(
    `SELECT con.conname, cn.nspname AS child_schema, cc.relname AS child_table,
            pn.nspname AS parent_schema, pc.relname AS parent_table,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns,
            pg_get_constraintdef(con.oid) AS definition, con.convalidated
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE con.contype = 'f' AND (con.conrelid = ANY($1::oid[]) OR con.confrelid = ANY($1::oid[]))
      ORDER BY cn.nspname, cc.relname, con.conname`,
    [oids],
  );
  return result.rows.map((r) => ({
    name: r.conname,
    schema: r.child_schema,
    table: r.child_table,
    columns: r.columns,
    refSchema: r.parent_schema,
    refTable: r.parent_table,
    refColumns: r.ref_columns,
    definition: r.definition,
    validated: r.convalidated,
  }));
}

async function readIndexes(client: pg.ClientBase, oids: number[]): Promise<IndexInfo[]> {
  const result = await client.query<{
    index_name: string; nspname: string; table_name: string; definition: string; amname: string; indisvalid: boolean; backs_constraint: boolean;
  }>(
    `SELECT ic.relname AS index_name, n.nspname, tc.relname AS table_name, pg_get_indexdef(i.indexrelid) AS definition,
            am.amname, i.indisvalid,
            EXISTS (SELECT 1 FROM pg_constraint con
                     WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')) AS backs_constraint
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
       JOIN pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = ANY($1::oid[])
      ORDER BY tc.relname, ic.relname`,
    [oids],
  );
  return result.rows.map((r) => ({
    name: r.index_name,
    schema: r.nspname,
    table: r.table_name,
    definition: r.definition,
    method: r.amname,
    valid: r.indisvalid,
    backsConstraint: r.backs_constraint,
  }));
}

async function readTriggers(client: pg.ClientBase, oids: number[]): Promise<TriggerInfo[]> {
  const result = await client.query<{ tgname: string; nspname: string; relname: string; tgenabled: TriggerMode }>(
    `SELECT t.tgname, n.nspname, c.relname, t.tgenabled
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal
      ORDER BY c.relname, t.tgname`,
    [oids],
  );
  return result.rows.map((r) => ({ name: r.tgname, schema: r.nspname, table: r.relname, mode: r.tgenabled }));
}

async function readSequences(client: pg.ClientBase, oids: number[]): Promise<SequenceInfo[]> {
  const result = await client.query<{ nspname: string; relname: string; attname: string; seq_schema: string; seq_name: string }>(
    `SELECT tn.nspname, tc.relname, a.attname, sn.nspname AS seq_schema, sc.relname AS seq_name
       FROM pg_depend d
       JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
       JOIN pg_namespace sn ON sn.oid = sc.relnamespace
       JOIN pg_class tc ON tc.oid = d.refobjid
       JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
        AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::oid[])
      ORDER BY tc.relname, a.attname`,
    [oids],
  );
  return result.rows.map((r) => ({
    schema: r.nspname, table: r.relname, column: r.attname, sequence: quoteTable(r.seq_schema, r.seq_name),
  }));
}

/** Reads everything the plan needs about `tables` in `schema`. Read-only; runs inside the caller's transaction. */
export async function readCatalog(client: pg.ClientBase, schema: string, tables: readonly string[]): Promise<Catalog> {
  const server = await readServerInfo(client);
  const tableMap = await readTables(client, schema, tables);
  const oids = [...tableMap.values()].map((t) => t.oid);
  return {
    server,
    tables: tableMap,
    foreignKeys: await readForeignKeys(client, oids),
    indexes: await readIndexes(client, oids),
    triggers: await readTriggers(client, oids),
    sequences: await readSequences(client, oids),
  };
}

/** Row counts of tables, in the caller's snapshot. */
export async function countRows(client: pg.ClientBase, tableSql: string): Promise<number> {
  const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${tableSql}`);
  return Number(result.rows[0]?.n ?? 0);
}

/** The last value a sequence handed out, or undefined when it never has. */
export async function readSequenceState(client: pg.ClientBase, sequenceSql: string): Promise<number | undefined> {
  const result = await client.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${sequenceSql}`);
  const row = result.rows[0];
  return row?.is_called ? Number(row.last_value) : undefined;
}
