// Reads the source's catalog and rows as its snapshot opens, and builds the plan: the part shared by sync, plan and verify.

import type pg from 'pg';
import { catalogFrom, catalogStatement, countRowsStatement, countsFrom, type Catalog, type PoolerGuess, type ServerInfo } from '../pg/catalog.js';
import { quoteTable } from '../pg/quote.js';
import { beginSourceSnapshot, existingTables, isUndefinedTable, rollback } from '../pg/transactions.js';
import type { Endpoint } from '../pg/uri.js';
import type { SyncPlan } from '../types.js';
import type { ResolvedOptions } from './options.js';
import { buildPlan } from './plan.js';
import { sourceUnreadable } from './privilege-check.js';

/**
 * Guesses what the connection goes through. PgBouncer and Supavisor forward queries, so the only outside signs are
 * the port the server reports (not the one we dialled) and Supabase's pooler host names and ports.
 */
export function guessPooler(endpoint: Endpoint, server: ServerInfo): PoolerGuess {
  const supavisor = endpoint.host.toLowerCase().endsWith('.pooler.supabase.com');
  if (endpoint.port === 6543 && (supavisor || server.port !== 6543)) return 'transaction pooler';
  if (supavisor) return 'session pooler';
  if (!endpoint.socket && server.port !== null && server.port !== endpoint.port) return 'pooler or proxy';
  return 'direct';
}

const TRANSACTION_POOLER_NOTE = 'goes through a transaction-mode pooler: archon-sync keeps all its work in one transaction per connection and uses only SET LOCAL, so it works, but a long copy is better through the session pooler (port 5432) or a direct connection';

/** What the source's snapshot holds, read as it opens: its catalog and the rows of each table it could lock. */
export interface SourceRead {
  catalog: Catalog;
  rows: ReadonlyMap<string, number>;
}

/**
 * Opens the source snapshot with the selected tables locked ACCESS SHARE first, and reads the catalog and the row
 * counts in it, in the same message. Tables the source lacks cannot be locked; they are found (outside any
 * snapshot) only when the first attempt says one is missing, and a second message does the same without them. A
 * table the role may not read is refused naming the source (`label`) and the grant it needs.
 */
export async function openSourceSnapshot(source: pg.ClientBase, schema: string, tables: readonly string[], lockTimeoutMs: number, label: string): Promise<SourceRead> {
  const open = async (locked: readonly string[]): Promise<SourceRead> => {
    const sql = locked.map((t) => quoteTable(schema, t));
    const replies = await beginSourceSnapshot(source, {
      lockTimeoutMs, lockTables: sql, then: [catalogStatement(schema, tables), ...(sql.length > 0 ? [countRowsStatement(sql)] : [])],
    });
    const catalog = catalogFrom(replies[0]);
    if (!catalog) throw new Error('the catalog query returned no row');
    const counts = countsFrom(replies[1], sql);
    return { catalog, rows: new Map(locked.map((t, i) => [t, counts[i] ?? 0])) };
  };
  try {
    return await open(tables);
  } catch (error) {
    if (!isUndefinedTable(error)) throw sourceUnreadable(error, label);
    await rollback(source);
    return open(await existingTables(source, schema, tables)).catch((again: unknown) => { throw sourceUnreadable(again, label); });
  }
}

/**
 * The plan, from what the source's snapshot held (openSourceSnapshot) and the target's catalog, read in whatever
 * transaction the caller opened.
 */
export function planFrom(options: ResolvedOptions, source: SourceRead, targetCatalog: Catalog): SyncPlan {
  const { schema, tables } = options;
  const sourceCatalog = source.catalog;
  sourceCatalog.server.pooler = guessPooler(options.sourceEndpoint, sourceCatalog.server);
  targetCatalog.server.pooler = guessPooler(options.targetEndpoint, targetCatalog.server);
  const sourceRows = new Map(tables.filter((name) => sourceCatalog.tables.has(name)).map((name) => [name, source.rows.get(name) ?? 0]));
  const result = buildPlan({ schema, tables, source: sourceCatalog, target: targetCatalog, sourceRows });
  for (const [side, server] of [['source', result.source], ['target', result.target]] as const) {
    if (server.pooler === 'transaction pooler') result.warnings.push(`the ${side} ${TRANSACTION_POOLER_NOTE}`);
  }
  return result;
}
