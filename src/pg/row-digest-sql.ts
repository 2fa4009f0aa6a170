// The per-row digest of incremental sync: one SQL expression per table and side, equal for equal rows on any two servers.

import type pg from 'pg';
import type { TableInfo } from './catalog.js';
import { quoteIdent, quoteLiteral, quoteTable } from './quote.js';
import { CANONICAL_TEXT } from './transactions.js';

/** What incremental sync needs to know about one table, the same on both sides. */
export interface DiffTableSpec {
  /** Quoted, schema-qualified table name (the same on both sides). */
  sql: string;
  /** Primary-key columns in key order (the same on both sides). */
  key: string[];
  /** Copied columns: non-generated, present on both sides, in target order. Includes the key. */
  columns: string[];
  /** How changed rows travel: `text` when some column cannot travel in binary COPY. */
  format: 'binary' | 'text';
  /**
   * Columns digested through their text form on both sides, because their binary form embeds type OIDs that
   * differ between databases (arrays and composites of user types). Either side's verdict puts a column here,
   * so both sides build the same digest.
   */
  textColumns: string[];
}

/** A table on one side, by schema and name (unquoted). */
export interface TableRef {
  schema: string;
  name: string;
}

/**
 * One side's binary send function for each column, as that side resolves it: table SQL (quoted,
 * schema-qualified) → column → quoted, schema-qualified function. Columns whose type has none are absent.
 */
export type SendFunctions = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * The spec of a table both catalogs hold. `columns` and `format` are the plan's (copied columns in target
 * order, binary or text; without a format, text exactly when a column is text-digested, as the plan decides);
 * the key is the primary key, which must be the same on both sides.
 */
export function diffTableSpec(source: TableInfo, target: TableInfo, columns: readonly string[], format?: 'binary' | 'text'): DiffTableSpec {
  const key = target.primaryKey;
  if (key.length === 0 || key.join('\0') !== source.primaryKey.join('\0')) {
    throw new Error(`${target.sql} has no primary key common to both sides; it cannot be diffed row by row`);
  }
  const missing = key.filter((k) => !columns.includes(k));
  if (missing.length > 0) throw new Error(`${target.sql}: key column(s) ${missing.join(', ')} are not among the copied columns`);
  const unsafe = new Set([...source.columns, ...target.columns].filter((c) => c.binaryUnsafeReason !== undefined).map((c) => c.name));
  const textColumns = columns.filter((c) => unsafe.has(c));
  return { sql: target.sql, key: [...key], columns: [...columns], format: format ?? (textColumns.length > 0 ? 'text' : 'binary'), textColumns };
}

/**
 * Reads every column's binary send function for all `tables` in ONE query. Read from pg_type.typsend because
 * an extension's functions live where the extension was installed (`vector_send` in `extensions` on Supabase
 * Cloud, in `public` elsewhere). A domain's typsend is its base type's, which CREATE DOMAIN copies.
 */
export async function readSendFunctions(client: pg.ClientBase, tables: readonly TableRef[]): Promise<SendFunctions> {
  return sendFunctionsFrom(await client.query(sendFunctionsStatement(tables)));
}

/** The statement readSendFunctions sends, values as literals, for a caller that sends it with others (runBatch). */
export function sendFunctionsStatement(tables: readonly TableRef[]): string {
  const array = (values: readonly string[]) => `ARRAY[${values.map(quoteLiteral).join(', ')}]::pg_catalog.text[]`;
  return `SELECT n.nspname, c.relname, a.attname, pn.nspname AS send_schema, p.proname AS send_name
       FROM unnest(${array(tables.map((t) => t.schema))}, ${array(tables.map((t) => t.name))}) AS wanted(schema_name, table_name)
       JOIN pg_namespace n ON n.nspname = wanted.schema_name
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_proc p ON p.oid = t.typsend
       LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace
      ORDER BY c.oid, a.attnum`;
}

/** The send functions in a reply to sendFunctionsStatement. */
export function sendFunctionsFrom(result: pg.QueryResult | undefined): SendFunctions {
  const out = new Map<string, Map<string, string>>();
  for (const row of (result?.rows ?? []) as { nspname: string; relname: string; attname: string; send_schema: string | null; send_name: string | null }[]) {
    const table = quoteTable(row.nspname, row.relname);
    const columns = out.get(table) ?? new Map<string, string>();
    if (row.send_schema !== null && row.send_name !== null) columns.set(row.attname, quoteTable(row.send_schema, row.send_name));
    out.set(table, columns);
  }
  return out;
}

/**
 * The digest of one row of `spec` on the side whose send functions are given, over the row alias `alias`:
 * 16 bytes of SHA-256 over record_send() of a ROW of each column's bytes.
 *
 * - Binary send forms, not text: a 1536-d vector's text costs most of a text digest's time, its send form is
 *   a copy of 6 KB. They are server-independent for built-in and extension scalars (and arrays of built-ins,
 *   whose element OIDs are fixed); textsend, jsonb_send and friends follow client_encoding, pinned to UTF8
 *   by useDigestSettings.
 * - record_send() frames the values: it writes each field's length, -1 for NULL, so NULL and '' differ and
 *   ('ab', 'c') and ('a', 'bc') differ. Every field is bytea, so the OIDs it also writes are bytea's on every
 *   server. It copies each value once, where `a || b || …` would recopy the growing prefix per column.
 * - SHA-256 rather than md5: it is there where FIPS builds refuse md5, and CPUs with SHA instructions
 *   compute it faster; 16 bytes of it are plenty to tell two versions of one row apart.
 */
export function rowDigestSql(spec: DiffTableSpec, sendFunctions: SendFunctions, alias: string): string {
  const functions = sendFunctions.get(spec.sql);
  if (!functions) throw new Error(`no column facts were read for ${spec.sql}`);
  const text = new Set(spec.textColumns);
  const fields = spec.columns.map((column) => {
    const value = `${alias}.${quoteIdent(column)}`;
    if (text.has(column)) return `pg_catalog.textsend(${value}::pg_catalog.text)`;
    const send = functions.get(column);
    if (!send) throw new Error(`${spec.sql}.${column} has no binary send function; it must be listed in textColumns`);
    return `${send}(${value})`;
  });
  return `pg_catalog.substr(pg_catalog.sha256(pg_catalog.record_send(ROW(${fields.join(', ')}))), 1, 16)`;
}

/**
 * Pins, for the caller's transaction, every setting that changes the bytes a digest hashes or the text of a key
 * literal: the same SET LOCALs every archon-sync transaction opens with (CANONICAL_TEXT), for callers that opened
 * their own.
 */
export async function useDigestSettings(client: pg.ClientBase): Promise<void> {
  await client.query(CANONICAL_TEXT.join('; '));
}
