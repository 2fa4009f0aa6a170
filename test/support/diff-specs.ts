// What the incremental-diff tests share: edits written exactly as stated, rows read back, and a table's diff spec.

import type { Catalog } from '../../src/pg/catalog.js';
import { diffTableSpec, type DiffTableSpec } from '../../src/pg/row-digest-sql.js';
import type { TestServer } from './servers.js';

/** Runs statements as the owner with triggers off, so an edit changes exactly the rows it names (no updated_at). */
export async function editAsOwner(server: TestServer, database: string, statements: string): Promise<void> {
  await server.asOwner(database, async (client) => { await client.query(`SET session_replication_role = replica; ${statements}`); });
}

export async function rowsAsOwner<T>(server: TestServer, database: string, sql: string): Promise<T[]> {
  return server.asOwner(database, async (client) => (await client.query(sql)).rows as T[]);
}

/** The spec the plan would give `name`: the non-generated target columns the source also has. */
export function specOf(source: Catalog, target: Catalog, name: string): DiffTableSpec {
  const s = source.tables.get(name);
  const t = target.tables.get(name);
  if (!s || !t) throw new Error(`${name} is missing on a side`);
  const sourceColumns = new Set(s.columns.filter((c) => !c.generated).map((c) => c.name));
  return diffTableSpec(s, t, t.columns.filter((c) => !c.generated && sourceColumns.has(c.name)).map((c) => c.name));
}
