// Several statements in one simple-query message: one round trip however many statements it carries.

import type pg from 'pg';

/**
 * Sends `statements` as one simple query. Only for statements without parameters: values must already be
 * literals (quoteLiteral) or numbers we produced. Resolves with one result per statement; on an error the
 * server skips the rest of the message and, inside a transaction block, leaves it aborted.
 */
export async function runBatch(client: pg.ClientBase, statements: readonly string[]): Promise<pg.QueryResult[]> {
  if (statements.length === 0) return [];
  const result = (await client.query(statements.join(';\n'))) as pg.QueryResult | pg.QueryResult[];
  return Array.isArray(result) ? result : [result];
}
