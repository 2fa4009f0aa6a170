// Server-side row digests for content verification: only keys and 16-byte md5s cross the network.
// Text output must not depend on either server's settings: the callers' transactions pin them (target-statements).

import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { quoteIdent } from './quote.js';

export interface RowDigest {
  key: string[];
  digest: Buffer;
}

/** The row's canonical text: the named columns in the given (name-sorted) order, as one ROW literal. */
function rowExpression(columns: readonly string[]): string {
  return `ROW(${columns.map((c) => `t.${quoteIdent(c)}`).join(', ')})::text`;
}

/**
 * Streams (primary key as text, md5 of the row) ordered by the key's text in the C collation, which sorts by
 * bytes on every server, so two servers' streams can be merged. Constant memory: a cursor fetches in batches.
 */
export function streamRowDigests(client: pg.ClientBase, table: string, key: readonly string[], columns: readonly string[]): AsyncIterable<RowDigest> {
  const keyText = key.map((k, i) => `t.${quoteIdent(k)}::text AS k${i}`).join(', ');
  const order = key.map((k) => `t.${quoteIdent(k)}::text COLLATE "C"`).join(', ');
  const digest = columns.length > 0 ? `decode(md5(${rowExpression(columns)}), 'hex')` : `'\\x'::bytea`;
  const stream = client.query(new QueryStream(`SELECT ${keyText}, ${digest} AS d FROM ${table} t ORDER BY ${order}`, [], { batchSize: 2000 }));
  return (async function* () {
    for await (const row of stream as AsyncIterable<Record<string, string | Buffer | null>>) {
      yield { key: key.map((_, i) => String(row[`k${i}`])), digest: row.d as Buffer };
    }
  })();
}

/** For tables without a primary key: row count and an order-independent digest of all rows. */
export async function aggregateDigest(client: pg.ClientBase, table: string, columns: readonly string[]): Promise<{ rows: number; digest: string }> {
  const result = await client.query<{ rows: string; digest: string | null }>(
    `SELECT count(*) AS rows, md5(string_agg(h, '' ORDER BY h)) AS digest FROM (SELECT md5(${rowExpression(columns)}) AS h FROM ${table} t) s`,
  );
  return { rows: Number(result.rows[0]?.rows ?? 0), digest: result.rows[0]?.digest ?? '' };
}
