// Two filled databases to sync between, and what tests of incremental runs ask of them: are they equal, what
// did a run change, did it write at all, and edits in every table written as Archon would.

import assert from 'node:assert/strict';
import { ARCHON_TABLES, type SyncResult } from '../../src/index.js';
import { filledDatabase, fingerprintDatabase } from './fixtures.js';
import type { TestServer } from './servers.js';

export interface Side { server: TestServer; database: string; uri: string }

/** The two sides of a randomized test, and each one's other. */
export type Name = 'a' | 'b';
export const OTHER: Record<Name, Name> = { a: 'b', b: 'a' };

export async function side(server: TestServer, seed: number, prefix: string): Promise<Side> {
  const database = await filledDatabase(server, seed, undefined, prefix);
  return { server, database, uri: server.ownerUri(database) };
}

export async function assertEqual(a: Side, b: Side): Promise<void> {
  const [x, y] = await Promise.all([fingerprintDatabase(a.server, a.database, ARCHON_TABLES), fingerprintDatabase(b.server, b.database, ARCHON_TABLES)]);
  for (const table of ARCHON_TABLES) assert.deepEqual(y[table], x[table], `${table} differs`);
}

export function modes(result: SyncResult): Record<string, string> {
  return Object.fromEntries(result.tables.map((t) => [t.table, t.mode]));
}

export function changes(result: SyncResult): Record<string, [number, number, number]> {
  return Object.fromEntries(result.tables.filter((t) => t.inserted + t.updated + t.deleted > 0).map((t) => [t.table, [t.inserted, t.updated, t.deleted]]));
}

/** Where every row physically is and which transaction wrote it: unchanged when nothing was written. */
export async function rowVersions(s: Side): Promise<Record<string, string>> {
  return s.server.admin(s.database, async (client) => {
    const out: Record<string, string> = {};
    for (const table of ARCHON_TABLES) {
      out[table] = (await client.query<{ v: string }>(`SELECT md5(coalesce(string_agg(ctid::text || ':' || xmin::text, ',' ORDER BY ctid), '')) AS v FROM ${table}`)).rows[0]?.v ?? '';
    }
    return out;
  });
}

interface ColumnFact { name: string; type: string; pk: boolean; constrained: boolean; hasDefault: boolean; generated: boolean }

/**
 * An insert, an update and a delete in every one of the 17 tables, written as Archon would (triggers and
 * foreign keys active, so deletes cascade and the source stays consistent). The insert copies an existing row
 * with its key and unique columns made new (text ones end in `suffix`: a sequence of edits on one database needs a
 * new one each time, or a varchar cut to its length comes out the same twice); the update edits a plain text or
 * jsonb column.
 */
export async function editEveryTable(s: Side, suffix = '-new'): Promise<void> {
  await s.server.asOwner(s.database, async (client) => {
    for (const table of ARCHON_TABLES) {
      const columns = (await client.query<ColumnFact>(`
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
               EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'p' AND a.attnum = ANY(c.conkey)) AS pk,
               EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype IN ('u', 'f') AND a.attnum = ANY(c.conkey)) AS constrained,
               a.atthasdef AS "hasDefault", a.attgenerated <> '' AS generated
          FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [table])).rows;
      const uniques = (await client.query<{ cols: string[] }>(`
        SELECT array(SELECT attname::text FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)) AS cols
          FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'u'`, [table])).rows.map((r) => r.cols);
      // A suffix that fits: varchar(n) keeps its first n - length(suffix) characters.
      const withSuffix = (c: ColumnFact, value: string, suffix: string) => {
        const limit = /\((\d+)\)/.exec(c.type)?.[1];
        return `${limit ? `left(${value}, ${Math.max(0, Number(limit) - suffix.length)})` : value} || '${suffix}'`;
      };
      const fresh = (c: ColumnFact) => /text|character/.test(c.type) ? withSuffix(c, c.name, suffix) : /integer|bigint/.test(c.type) ? `${c.name} + 100000` : c.type === 'date' ? `${c.name} + 1` : undefined;
      const changedUnique = new Set(uniques.map((cols) => cols.find((name) => { const c = columns.find((x) => x.name === name); return c !== undefined && fresh(c) !== undefined; })).filter(Boolean));
      const insertable = columns.filter((c) => !c.generated && !(c.pk && c.hasDefault));
      const values = insertable.map((c) => (c.pk || changedUnique.has(c.name) ? fresh(c) ?? c.name : c.name));
      await client.query(`INSERT INTO ${table} (${insertable.map((c) => c.name).join(', ')}) SELECT ${values.join(', ')} FROM ${table} WHERE ctid = (SELECT min(ctid) FROM ${table})`);
      const plain = columns.find((c) => !c.pk && !c.constrained && !c.generated && /^(text|character varying.*|jsonb)$/.test(c.type));
      assert.ok(plain, `${table} has a plain column to edit`);
      const edited = plain.type === 'jsonb' ? `coalesce(${plain.name}, '{}') || '{"edited": true}'` : withSuffix(plain, `coalesce(${plain.name}, '')`, ' (edited)');
      await client.query(`UPDATE ${table} SET ${plain.name} = ${edited} WHERE ctid = (SELECT max(ctid) FROM ${table})`);
      // Projects are what the outside tables point at: deleting one is its own test.
      if (table !== 'archon_projects') await client.query(`DELETE FROM ${table} WHERE ctid = (SELECT min(ctid) FROM ${table})`);
    }
  });
}
