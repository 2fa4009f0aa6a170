// Shared fixtures: databases filled by the generator, and whole-database fingerprints.

import { generateArchonData } from '../../schema/generate.js';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { fingerprintTables, type TableFingerprint } from './fingerprint.js';
import type { TestServer } from './servers.js';

/** Tables outside the 17 that reference them (Archon's own): they must survive every sync untouched. */
export const OUTSIDE_TABLES = ['archon_sprints', 'archon_workflow_stages', 'archon_project_hierarchy'] as const;
export const ALL_TABLES: readonly string[] = [...ARCHON_TABLES, ...OUTSIDE_TABLES];

export const DEFAULT_TEST_SCALE = Number(process.env.ARCHON_SYNC_TEST_SCALE ?? 0.01);

/** A fresh database on `server`, filled with the generator's data for `seed` (or left empty when seed is undefined). */
export async function filledDatabase(server: TestServer, seed: number | undefined, scale = DEFAULT_TEST_SCALE, prefix = 'db'): Promise<string> {
  const database = await server.createDatabase(prefix);
  if (seed !== undefined) {
    await server.asOwner(database, (client) => generateArchonData(client, { seed, scale }).then(() => undefined));
  }
  return database;
}

export async function fingerprintDatabase(server: TestServer, database: string, tables: readonly string[] = ALL_TABLES): Promise<Record<string, TableFingerprint>> {
  return server.asOwner(database, (client) => fingerprintTables(client, tables));
}

/** Runs SQL as the owner role in one database. */
export async function ownerSql(server: TestServer, database: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  return server.asOwner(database, async (client) => (await client.query(sql, params)).rows as Record<string, unknown>[]);
}
