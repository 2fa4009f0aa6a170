// Server-side fingerprints of tables: what "equal" means in every test and in the benchmark.

import type pg from 'pg';
import { quoteIdent } from '../../src/pg/quote.js';

export interface TableFingerprint {
  rows: number;
  /** md5 over the sorted md5s of every row's non-generated columns, taken in column-name order. */
  digest: string;
}

async function fingerprintColumns(client: pg.ClientBase, table: string): Promise<string[]> {
  const result = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
      ORDER BY attname`,
    [quoteIdent(table)],
  );
  return result.rows.map((row) => row.attname);
}

/** Fingerprint of one table: independent of row order and column order, sensitive to every byte of every value. */
export async function fingerprintTable(client: pg.ClientBase, table: string): Promise<TableFingerprint> {
  const columns = await fingerprintColumns(client, table);
  if (columns.length === 0) throw new Error(`table ${table} has no columns to fingerprint (does it exist?)`);
  const row = columns.map((column) => `${quoteIdent(column)}`).join(', ');
  const result = await client.query<{ rows: number; digest: string | null }>(
    `SELECT count(*)::int AS rows, md5(string_agg(h, '' ORDER BY h)) AS digest
       FROM (SELECT md5(ROW(${row})::text) AS h FROM ${quoteIdent(table)}) hashed`,
  );
  const first = result.rows[0];
  return { rows: first?.rows ?? 0, digest: first?.digest ?? 'empty' };
}

export async function fingerprintTables(client: pg.ClientBase, tables: readonly string[]): Promise<Record<string, TableFingerprint>> {
  // Row text must not depend on the server's or database's own settings (a DateStyle set per database), or two
  // servers holding the same values would fingerprint differently. The connection is the test's own.
  await client.query(`SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'`);
  const out: Record<string, TableFingerprint> = {};
  for (const table of tables) out[table] = await fingerprintTable(client, table);
  return out;
}
