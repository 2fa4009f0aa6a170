// Reads both catalogs inside the run's transactions and builds the plan: the part shared by sync, plan and verify.

import type pg from 'pg';
import { readCatalog, countRows, type PoolerGuess, type ServerInfo } from '../pg/catalog.js';
import { quoteTable } from '../pg/quote.js';
import { beginSourceSnapshot, existingTables, isUndefinedTable, rollback } from '../pg/transactions.js';
import type { Endpoint } from '../pg/uri.js';
import type { SyncPlan } from '../types.js';
import type { Session } from './connections.js';
import type { ResolvedOptions } from './options.js';
import { buildPlan } from './plan.js';

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

/**
 * Opens the source snapshot with the selected tables locked ACCESS SHARE first. Tables the source lacks cannot
 * be locked; they are found (outside any snapshot) only when the first attempt says one is missing.
 */
export async function openSourceSnapshot(source: pg.ClientBase, schema: string, tables: readonly string[], lockTimeoutMs: number): Promise<void> {
  try {
    await beginSourceSnapshot(source, { lockTimeoutMs, lockTables: tables.map((t) => quoteTable(schema, t)) });
  } catch (error) {
    if (!isUndefinedTable(error)) throw error;
    await rollback(source);
    const present = await existingTables(source, schema, tables);
    await beginSourceSnapshot(source, { lockTimeoutMs, lockTables: present.map((t) => quoteTable(schema, t)) });
  }
}

/**
 * Starts the source snapshot, reads both catalogs (the target's in whatever transaction the caller opened),
 * counts the source rows and returns the plan.
 */
export async function readPlan(session: Session, options: ResolvedOptions): Promise<SyncPlan> {
  const { schema, tables } = options;
  await openSourceSnapshot(session.source, schema, tables, options.lockTimeoutMs);
  // One round trip on each side at once: over a link the two catalogs cost one wait, not two.
  const [sourceCatalog, targetCatalog] = await Promise.all([readCatalog(session.source, schema, tables), readCatalog(session.target, schema, tables)]);
  session.sourcePid = sourceCatalog.server.backendPid;
  sourceCatalog.server.pooler = guessPooler(options.sourceEndpoint, sourceCatalog.server);
  targetCatalog.server.pooler = guessPooler(options.targetEndpoint, targetCatalog.server);
  const present = tables.filter((name) => sourceCatalog.tables.has(name));
  const counts = await countRows(session.source, present.map((name) => sourceCatalog.tables.get(name)?.sql ?? ''));
  const sourceRows = new Map(present.map((name, i) => [name, counts[i] ?? 0]));
  const result = buildPlan({ schema, tables, source: sourceCatalog, target: targetCatalog, sourceRows });
  for (const [side, server] of [['source', result.source], ['target', result.target]] as const) {
    if (server.pooler === 'transaction pooler') result.warnings.push(`the ${side} ${TRANSACTION_POOLER_NOTE}`);
  }
  return result;
}
