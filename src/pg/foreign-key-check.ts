// One statement that finds the first row any of a list of foreign keys would reject, checked set-based.

import type pg from 'pg';
import type { ForeignKeyInfo } from './catalog.js';
import { quoteIdent, quoteLiteral, quoteTable } from './quote.js';

export interface ForeignKeyViolation {
  /** Position of the violated key in the list checked. */
  index: number;
  /** Key values of the first offending row, as text. */
  key: Record<string, string>;
}

/** The first row any of `fks` would reject, in one statement for all of them; undefined when every row is fine. */
export async function findForeignKeyViolation(client: pg.ClientBase, fks: readonly ForeignKeyInfo[]): Promise<ForeignKeyViolation | undefined> {
  if (fks.length === 0) return undefined;
  const checks = fks.map((fk, index) => {
    const child = quoteTable(fk.schema, fk.table);
    const parent = quoteTable(fk.refSchema, fk.refTable);
    const notNull = fk.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
    const joins = fk.columns.map((c, i) => `p.${quoteIdent(fk.refColumns[i] ?? c)} = c.${quoteIdent(c)}`).join(' AND ');
    const key = fk.columns.map((c) => `${quoteLiteral(c)}, c.${quoteIdent(c)}::text`).join(', ');
    // MATCH SIMPLE (the default): a key with any NULL column is not checked, exactly as PostgreSQL does.
    return `(SELECT ${index} AS fk, json_build_object(${key}) AS key
               FROM ${child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${joins}) LIMIT 1)`;
  });
  // In a subquery: a single parenthesized check followed by LIMIT would be "multiple LIMIT clauses".
  const result = await client.query<{ fk: number; key: Record<string, string> }>(`SELECT * FROM (${checks.join('\nUNION ALL\n')}) checks\nLIMIT 1`);
  const row = result.rows[0];
  return row ? { index: row.fk, key: row.key } : undefined;
}
