// Incremental sync table by table on real clusters: the target ends equal to the source snapshot and only changed rows move.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { CopyError } from '../../src/errors.js';
import { BinaryCopyRowCounter } from '../../src/pg/binary-copy.js';
import { readCatalog } from '../../src/pg/catalog.js';
import { copyStatements } from '../../src/pg/copy.js';
import { diffTableSpec, readSendFunctions, rowDigestSql, useDigestSettings, type DiffTableSpec } from '../../src/pg/row-digest-sql.js';
import { applyDeletes, applyInserts, createDigestTables, stageDiff, type AppliedInserts, type StagedDiff } from '../../src/pg/table-diff.js';
import { TextCopyRowCounter } from '../../src/pg/text-copy.js';
import { fingerprintTables, type TableFingerprint } from '../support/fingerprint.js';
import { editAsOwner as edit, rowsAsOwner as rows, specOf } from '../support/diff-specs.js';
import { filledDatabase } from '../support/fixtures.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

interface Pair { source: string; target: string }

interface Outcome { spec: DiffTableSpec; staged: StagedDiff; deleted: number; inserted: AppliedInserts }

interface RunOptions {
  tables?: readonly string[];
  batchSize?: number;
  /** Default true; false leaves FK and user triggers active, which incremental sync must refuse. */
  replicaRole?: boolean;
  /** Runs on the target inside its transaction after the changes were applied, before COMMIT. */
  beforeCommit?: (target: pg.Client, source: pg.Client) => Promise<void>;
}

async function twins(seed: number): Promise<Pair> {
  const [source, target] = await Promise.all([filledDatabase(servers.source, seed), filledDatabase(servers.target, seed)]);
  return { source, target };
}

/** What the engine will do, in its order: one source snapshot, one target transaction in replica role. */
async function incrementalSync(pair: Pair, options: RunOptions = {}): Promise<Map<string, Outcome>> {
  const tables = options.tables ?? ARCHON_TABLES;
  const source = await servers.source.owner(pair.source);
  const target = await servers.target.owner(pair.target);
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await target.query('BEGIN');
    if (options.replicaRole !== false) await target.query('SET LOCAL session_replication_role = replica');
    await useDigestSettings(source);
    await useDigestSettings(target);
    const sourceCatalog = await readCatalog(source, 'public', tables);
    const targetCatalog = await readCatalog(target, 'public', tables);
    const specs = tables.map((name) => specOf(sourceCatalog, targetCatalog, name));
    const refs = tables.map((name) => ({ schema: 'public', name }));
    const sendFunctions = { source: await readSendFunctions(source, refs), target: await readSendFunctions(target, refs) };
    await createDigestTables(target, specs);
    const staged: StagedDiff[] = [];
    for (const spec of specs) staged.push(await stageDiff(source, target, spec, { sendFunctions }));
    const deleted: number[] = [];
    // Children first, as the engine does (in replica role the order is not needed for correctness).
    for (let i = specs.length - 1; i >= 0; i--) deleted[i] = await applyDeletes(target, specs[i]!, staged[i]!);
    const outcomes = new Map<string, Outcome>();
    for (const [i, spec] of specs.entries()) {
      const inserted = await applyInserts(source, target, spec, staged[i]!, { batchSize: options.batchSize });
      outcomes.set(tables[i]!, { spec, staged: staged[i]!, deleted: deleted[i]!, inserted });
    }
    await options.beforeCommit?.(target, source);
    await target.query('COMMIT');
    await source.query('COMMIT');
    return outcomes;
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await source.end();
    await target.end();
  }
}

/** The tables that changed, as [inserts, updates, deletes]; after checking each outcome is self-consistent. */
function changes(outcomes: Map<string, Outcome>): Record<string, [number, number, number]> {
  const out: Record<string, [number, number, number]> = {};
  for (const [table, { staged, deleted, inserted }] of outcomes) {
    assert.equal(deleted, staged.deletes + staged.updates, `${table}: rows deleted`);
    assert.equal(inserted.rows, staged.inserts + staged.updates, `${table}: rows copied`);
    if (staged.inserts + staged.updates + staged.deletes > 0) out[table] = [staged.inserts, staged.updates, staged.deletes];
  }
  return out;
}

async function fingerprints(server: TestServer, database: string, tables: readonly string[]): Promise<Record<string, TableFingerprint>> {
  // Under the digest settings: the text these fingerprints hash must not depend on a database's own settings.
  return server.asOwner(database, async (client) => {
    await client.query('BEGIN');
    await useDigestSettings(client);
    const result = await fingerprintTables(client, tables);
    await client.query('COMMIT');
    return result;
  });
}

async function assertSameContents(pair: Pair, tables: readonly string[] = ARCHON_TABLES): Promise<void> {
  const [source, target] = await Promise.all([fingerprints(servers.source, pair.source, tables), fingerprints(servers.target, pair.target, tables)]);
  assert.deepEqual(target, source);
}

/** Bytes a full binary COPY of the table sends from the source (what a non-incremental sync streams). */
async function fullCopyBytes(client: pg.ClientBase, spec: DiffTableSpec): Promise<number> {
  const counter = spec.format === 'binary' ? new BinaryCopyRowCounter() : new TextCopyRowCounter();
  const sink = new Writable({ write(_chunk, _encoding, callback) { callback(); } });
  await pipeline(client.query(copyTo(copyStatements(spec.sql, spec.columns, spec.format, false).out)), counter, sink);
  return counter.bytes;
}

/** Row versions of a table: unchanged exactly when no row was written (xmin is the writing transaction). */
async function rowVersions(server: TestServer, database: string, table: string): Promise<string> {
  const [row] = await rows<{ versions: string }>(server, database, `SELECT md5(string_agg(ctid::text || ':' || xmin::text, ',' ORDER BY ctid)) AS versions FROM ${table}`);
  return row?.versions ?? '';
}

/** Writes this transaction made to the real tables so far (pg_stat_xact_*: the current transaction only). */
async function writesInTransaction(client: pg.ClientBase): Promise<Record<string, number>> {
  const result = await client.query<{ relname: string; writes: number }>(
    `SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::int AS writes FROM pg_stat_xact_user_tables
      WHERE schemaname = 'public' AND relname = ANY($1::text[])`,
    [ARCHON_TABLES],
  );
  return Object.fromEntries(result.rows.map((r) => [r.relname, r.writes]));
}

describe('incremental sync, table by table', () => {
  test('heals a target holding other data, then a run over equal databases writes nothing and streams under 2% of a full copy', async (t: TestContext) => {
    const pair = { source: await filledDatabase(servers.source, 21), target: await filledDatabase(servers.target, 22) };
    const first = await incrementalSync(pair, {
      beforeCommit: async (target) => {
        // The probe the second run relies on does see writes.
        const writes = await writesInTransaction(target);
        assert.ok((writes.archon_crawled_pages ?? 0) > 0 && (writes.archon_tasks ?? 0) > 0, JSON.stringify(writes));
      },
    });
    assert.equal(Object.keys(changes(first)).length, ARCHON_TABLES.length, 'every table differed');
    await assertSameContents(pair);

    const watched = ['archon_crawled_pages', 'archon_tasks', 'archon_sources', 'archon_projects'];
    const versionsBefore = await Promise.all(watched.map((table) => rowVersions(servers.target, pair.target, table)));
    let fullBytes = 0;
    const second = await incrementalSync(pair, {
      beforeCommit: async (target, source) => {
        const writes = await writesInTransaction(target);
        assert.deepEqual(Object.entries(writes).filter(([, n]) => n > 0), []);
        for (const table of ARCHON_TABLES) fullBytes += await fullCopyBytes(source, specOf(await readCatalog(source, 'public', [table]), await readCatalog(target, 'public', [table]), table));
      },
    });
    assert.deepEqual(changes(second), {});
    for (const { staged } of second.values()) assert.equal(staged.sourceRows, staged.targetRows);
    assert.deepEqual(await Promise.all(watched.map((table) => rowVersions(servers.target, pair.target, table))), versionsBefore);
    await assertSameContents(pair);

    const digestBytes = [...second.values()].reduce((sum, o) => sum + o.staged.bytes, 0);
    const share = digestBytes / fullBytes;
    t.diagnostic(`unchanged database: ${digestBytes} bytes of digests streamed vs ${fullBytes} bytes for a full binary copy (${(share * 100).toFixed(2)}%)`);
    const pages = second.get('archon_crawled_pages');
    t.diagnostic(`archon_crawled_pages: ${pages?.staged.sourceRows} rows, ${pages?.staged.bytes} bytes of digests (${((pages?.staged.bytes ?? 0) / (pages?.staged.sourceRows ?? 1)).toFixed(1)} per row)`);
    assert.ok(share <= 0.02, `digests cost ${(share * 100).toFixed(2)}% of a full copy`);
  });

  test('moves exactly the rows changed on the source: content, a vector component, a jsonb key, NULL and back, new and deleted rows', async () => {
    const pair = await twins(31);
    const pages = await rows<{ id: string; has1536: boolean; hasPage: boolean; no384: boolean }>(servers.source, pair.source,
      `SELECT id::text, embedding_1536 IS NOT NULL AS "has1536", page_id IS NOT NULL AS "hasPage", embedding_384 IS NULL AS "no384" FROM archon_crawled_pages ORDER BY id`);
    const taken = new Set<string>();
    const pick = (ok: (p: (typeof pages)[number]) => boolean): string => {
      const found = pages.find((p) => ok(p) && !taken.has(p.id));
      assert.ok(found, 'the generated data has a row for every edit');
      taken.add(found.id);
      return found.id;
    };
    const [content, vector, json, toValue, toNull, gone] = [pick(() => true), pick((p) => p.has1536), pick(() => true), pick((p) => p.no384), pick((p) => p.hasPage), pick(() => true)];
    const tasks = await rows<{ id: string }>(servers.source, pair.source, 'SELECT id::text FROM archon_tasks ORDER BY id');
    const sources = await rows<{ source_id: string }>(servers.source, pair.source, 'SELECT source_id FROM archon_sources ORDER BY source_id');
    const [project] = await rows<{ id: string }>(servers.source, pair.source, 'SELECT id::text FROM archon_projects ORDER BY id LIMIT 1');
    await edit(servers.source, pair.source, `
      UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id = ${content};
      UPDATE archon_crawled_pages SET embedding_1536 = (SELECT array_agg(CASE WHEN ord = 7 THEN v + 0.001 ELSE v END ORDER BY ord)::vector(1536)
        FROM unnest(embedding_1536::real[]) WITH ORDINALITY u(v, ord)) WHERE id = ${vector};
      UPDATE archon_crawled_pages SET metadata = metadata || '{"reviewed": true}' WHERE id = ${json};
      UPDATE archon_crawled_pages SET embedding_384 = array_fill(0.25::real, ARRAY[384])::vector(384) WHERE id = ${toValue};
      UPDATE archon_crawled_pages SET page_id = NULL WHERE id = ${toNull};
      DELETE FROM archon_crawled_pages WHERE id = ${gone};
      INSERT INTO archon_crawled_pages (url, chunk_number, content, source_id)
        SELECT url, chunk_number + 1000, 'a new chunk', source_id FROM archon_crawled_pages ORDER BY id LIMIT 2;

      INSERT INTO archon_tasks (id, project_id, title) VALUES ('00000000-0000-4000-8000-00000000a001', '${project?.id}', 'new parent');
      INSERT INTO archon_tasks (id, project_id, parent_task_id, title) VALUES ('00000000-0000-4000-8000-00000000a002', '${project?.id}', '00000000-0000-4000-8000-00000000a001', 'new child');
      UPDATE archon_tasks SET parent_task_id = '00000000-0000-4000-8000-00000000a001', status = 'done' WHERE id = '${tasks[0]?.id}';
      DELETE FROM archon_tasks WHERE id = '${tasks[1]?.id}';

      INSERT INTO archon_sources (source_id, title) VALUES (E'o''brien\\\\src', 'a key with a quote and a backslash');
      UPDATE archon_sources SET metadata = metadata || '{"knowledge_type": "edited"}' WHERE source_id = '${sources[0]?.source_id}';
      DELETE FROM archon_sources WHERE source_id = '${sources[1]?.source_id}';`);
    const [odd] = await rows<{ source_id: string }>(servers.source, pair.source, `SELECT source_id FROM archon_sources WHERE title LIKE 'a key with%'`);
    assert.equal(odd?.source_id, "o'brien\\src");

    const outcomes = await incrementalSync(pair, { batchSize: 2 });
    assert.deepEqual(changes(outcomes), {
      archon_sources: [1, 1, 1],
      archon_crawled_pages: [2, 5, 1],
      archon_tasks: [2, 1, 1],
    });
    assert.equal(outcomes.get('archon_crawled_pages')?.inserted.batches, 4, '7 rows in batches of 2');
    await assertSameContents(pair);
  });

  test('swaps (url, chunk_number) between two rows without a unique violation: old versions go before new ones come', async () => {
    const pair = await twins(41);
    const [a, b] = await rows<{ id: string; url: string; chunk_number: number }>(servers.source, pair.source,
      'SELECT id::text, url, chunk_number FROM archon_crawled_pages ORDER BY id LIMIT 2');
    assert.ok(a && b && (a.url !== b.url || a.chunk_number !== b.chunk_number));
    const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
    await edit(servers.source, pair.source, `
      UPDATE archon_crawled_pages SET chunk_number = -1 WHERE id = ${a.id};
      UPDATE archon_crawled_pages SET url = ${literal(a.url)}, chunk_number = ${a.chunk_number} WHERE id = ${b.id};
      UPDATE archon_crawled_pages SET url = ${literal(b.url)}, chunk_number = ${b.chunk_number} WHERE id = ${a.id};`);
    // Batches of one: the two rows arrive in separate COPYs, each of which would collide with the other's old version.
    const outcomes = await incrementalSync(pair, { batchSize: 1 });
    assert.deepEqual(changes(outcomes), { archon_crawled_pages: [0, 2, 0] });
    await assertSameContents(pair);
  });

  test('heals a target changed on its own: stray rows go, edited rows are restored, deleted rows come back', async () => {
    const pair = await twins(51);
    await edit(servers.target, pair.target, `
      INSERT INTO archon_settings (key, value) VALUES ('stray', 'only on the target');
      INSERT INTO archon_crawled_pages (url, chunk_number, content, source_id) SELECT 'https://stray.example/', 0, 'stray', source_id FROM archon_sources LIMIT 1;
      UPDATE archon_crawled_pages SET content = 'edited on the target' WHERE id = (SELECT min(id) FROM archon_crawled_pages);
      DELETE FROM archon_crawled_pages WHERE id = (SELECT max(id) FROM archon_crawled_pages WHERE url <> 'https://stray.example/');
      UPDATE archon_projects SET hierarchy_path = 'edited.on.target' WHERE id = (SELECT id FROM archon_projects ORDER BY id LIMIT 1);
      DELETE FROM archon_page_metadata WHERE id = (SELECT id FROM archon_page_metadata ORDER BY id LIMIT 1);
      DELETE FROM archon_task_history WHERE id IN (SELECT id FROM archon_task_history ORDER BY id LIMIT 2);`);
    const outcomes = await incrementalSync(pair);
    assert.deepEqual(changes(outcomes), {
      archon_settings: [0, 0, 1],
      archon_projects: [0, 1, 0],
      archon_page_metadata: [1, 0, 0],
      archon_crawled_pages: [1, 1, 1],
      archon_task_history: [2, 0, 0],
    });
    await assertSameContents(pair);
  });

  test('digests an enum array and a composite through their text form, whose type OIDs differ between the databases, and copies them as text', async () => {
    const pair = await twins(61);
    const ddl = `
      CREATE TYPE diff_mood AS ENUM ('calm', 'busy');
      CREATE TYPE diff_point AS (at timestamptz, span interval, ratio float8, price money, label text);
      CREATE TABLE diff_text_path (id int PRIMARY KEY, moods diff_mood[], point diff_point, note text);`;
    await edit(servers.source, pair.source, ddl);
    // A type created first on the target only: every OID after it differs from the source's.
    await edit(servers.target, pair.target, `CREATE TYPE diff_shift AS (x int); ${ddl}`);
    const oid = `SELECT 'diff_mood'::regtype::oid::int AS oid`;
    const [[sourceOid], [targetOid]] = await Promise.all([rows<{ oid: number }>(servers.source, pair.source, oid), rows<{ oid: number }>(servers.target, pair.target, oid)]);
    assert.notEqual(sourceOid?.oid, targetOid?.oid);
    const row = (id: number, moods: string, note: string) =>
      `(${id}, ${moods}, ROW('2024-01-02 03:04:05.678901+00', '1 day 02:03:04.5', 0.1, 12.34, 'a "quoted", label')::diff_point, '${note}')`;
    await edit(servers.source, pair.source, `INSERT INTO diff_text_path VALUES
      ${row(1, `'{calm,busy}'`, 'same')}, ${row(2, `'{busy}'`, 'moods change')}, (3, NULL, NULL, 'only on the source'), (4, '{}', ROW(NULL, NULL, NULL, NULL, NULL), 'same too')`);
    await edit(servers.target, pair.target, `INSERT INTO diff_text_path VALUES
      ${row(1, `'{calm,busy}'`, 'same')}, ${row(2, `'{calm}'`, 'moods change')}, (4, '{}', ROW(NULL, NULL, NULL, NULL, NULL), 'same too'), (5, NULL, NULL, 'stray')`);

    const tables = ['diff_text_path'];
    const outcomes = await incrementalSync(pair, { tables });
    const spec = outcomes.get('diff_text_path')?.spec;
    assert.deepEqual(spec?.textColumns, ['moods', 'point']);
    assert.equal(spec?.format, 'text');
    assert.deepEqual(changes(outcomes), { diff_text_path: [1, 1, 1] });
    await assertSameContents(pair, tables);
    assert.deepEqual(changes(await incrementalSync(pair, { tables })), {});
  });

  test('a composite primary key: rows are matched on both columns, keys with quotes and backslashes read back', async () => {
    const pair = await twins(71);
    const ddl = 'CREATE TABLE diff_pairs (tenant int, name text, payload jsonb, PRIMARY KEY (tenant, name))';
    await edit(servers.source, pair.source, `${ddl};
      INSERT INTO diff_pairs VALUES (1, 'a', '{"v": 1}'), (1, 'b', '{"v": 2}'), (2, 'a', '{"v": 3}'), (2, E'o''brien\\\\x', '{"v": 4}'), (3, 'a', NULL), (3, 'b', '{}')`);
    await edit(servers.target, pair.target, `${ddl};
      INSERT INTO diff_pairs VALUES (1, 'a', '{"v": 1}'), (1, 'b', '{"v": 20}'), (2, 'b', '{"v": 3}'), (3, 'a', '{}'), (3, 'b', '{}'), (9, 'stray', NULL)`);
    const tables = ['diff_pairs'];
    const outcomes = await incrementalSync(pair, { tables, batchSize: 2 });
    // (2,'a') and (2,'o''brien\x') are new; (1,'b') and (3,'a') changed; (2,'b') and (9,'stray') go.
    assert.deepEqual(changes(outcomes), { diff_pairs: [2, 2, 2] });
    assert.equal(outcomes.get('diff_pairs')?.inserted.batches, 2);
    await assertSameContents(pair, tables);
  });

  test('refuses to apply unless the target runs in replica role, where deleting an old version would cascade to its children', async () => {
    const pair = await twins(81);
    await edit(servers.source, pair.source, `UPDATE archon_sources SET summary = 'changed' WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
    const before = await fingerprints(servers.target, pair.target, ARCHON_TABLES);
    await assert.rejects(incrementalSync(pair, { replicaRole: false }), (error: unknown) => {
      assert.ok(error instanceof CopyError);
      assert.match(error.message, /needs session_replication_role = replica/);
      return true;
    });
    assert.deepEqual(await fingerprints(servers.target, pair.target, ARCHON_TABLES), before);
  });
});

describe('the row digest', () => {
  test('NULL and empty differ, and a value boundary cannot shift between adjacent columns, in both the binary and the text form', async () => {
    const database = await filledDatabase(servers.source, undefined);
    await edit(servers.source, database, `CREATE TABLE diff_props (id int PRIMARY KEY, a text, b text);
      INSERT INTO diff_props VALUES (1, NULL, 'x'), (2, '', 'x'), (3, 'ab', 'c'), (4, 'a', 'bc'), (5, NULL, NULL), (6, '', ''), (7, 'ab', 'c'), (8, 'abc', NULL), (9, NULL, 'abc')`);
    const digests = await servers.source.asOwner(database, async (client) => {
      const sendFunctions = await readSendFunctions(client, [{ schema: 'public', name: 'diff_props' }]);
      const out: string[][] = [];
      for (const textColumns of [[], ['a', 'b']]) {
        // Only a and b: the key would make every digest differ on its own.
        const spec: DiffTableSpec = { sql: '"public"."diff_props"', key: ['id'], columns: ['a', 'b'], format: 'binary', textColumns };
        const result = await client.query<{ d: string }>(`SELECT encode(${rowDigestSql(spec, sendFunctions, 'r')}, 'hex') AS d FROM diff_props r ORDER BY id`);
        out.push(result.rows.map((r) => r.d));
      }
      return out;
    });
    for (const list of digests) {
      assert.equal(list.length, 9);
      assert.equal(list[6], list[2], 'equal values, equal digests');
      assert.equal(new Set(list).size, 8, `only rows 3 and 7 are equal: ${list.join(' ')}`);
    }
  });

  test('equal rows digest equally on two servers set up differently (DateStyle, TimeZone, IntervalStyle, extra_float_digits, bytea_output, standard_conforming_strings)', async () => {
    const pair = { source: await filledDatabase(servers.source, undefined), target: await filledDatabase(servers.target, undefined) };
    const setup = `
      CREATE TYPE diff_moment AS (at timestamptz, day date, span interval, ratio float8, small real, raw bytea);
      CREATE TABLE diff_settings (id text PRIMARY KEY, at timestamptz, day date, span interval, ratio float8, small real, amount numeric,
        raw bytea, ratios float8[], moment diff_moment);
      INSERT INTO diff_settings VALUES
        ('plain', '2024-02-29 23:59:59.999999+05:30', '2024-02-29', '1 year 2 mons 3 days 04:05:06.789', 0.1, 0.3, 1.10, '\\x00ff', '{0.1,1e-300,-2.5}',
         ROW('1999-12-31 12:00:00+00', '0044-03-15 BC', '-1 day +02:00', 1e100, 3.4e38, '\\xdeadbeef')),
        (E'back\\\\slash', '2000-01-01 00:00:00+00', '2000-01-01', '00:00:00.000001', -0.0, 1.5, 0, '', '{}', ROW(NULL, NULL, NULL, 'NaN', '-Infinity', '')),
        ('o''quote', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;
    await edit(servers.source, pair.source, setup);
    await edit(servers.target, pair.target, setup);
    await servers.source.asOwner(pair.source, (c) => c.query(`ALTER DATABASE "${pair.source}" SET DateStyle = 'German, DMY';
      ALTER DATABASE "${pair.source}" SET TimeZone = 'Asia/Kathmandu'; ALTER DATABASE "${pair.source}" SET IntervalStyle = 'sql_standard';
      ALTER DATABASE "${pair.source}" SET extra_float_digits = -2; ALTER DATABASE "${pair.source}" SET bytea_output = 'escape';
      ALTER DATABASE "${pair.source}" SET standard_conforming_strings = off`));
    await servers.target.asOwner(pair.target, (c) => c.query(`ALTER DATABASE "${pair.target}" SET DateStyle = 'SQL, MDY';
      ALTER DATABASE "${pair.target}" SET TimeZone = 'America/St_Johns'; ALTER DATABASE "${pair.target}" SET IntervalStyle = 'iso_8601';
      ALTER DATABASE "${pair.target}" SET extra_float_digits = 0`));

    // The settings do reach the text: without the pins the same rows print differently.
    const text = 'SELECT moment::text || at::text || ratio::text || raw::text AS t FROM diff_settings ORDER BY id';
    const [plainSource, plainTarget] = await Promise.all([rows<{ t: string }>(servers.source, pair.source, text), rows<{ t: string }>(servers.target, pair.target, text)]);
    assert.notDeepEqual(plainSource, plainTarget);

    const digestsOn = (server: TestServer, database: string) => server.asOwner(database, async (client) => {
      await client.query('BEGIN');
      await useDigestSettings(client);
      const catalog = await readCatalog(client, 'public', ['diff_settings']);
      const table = catalog.tables.get('diff_settings');
      assert.ok(table);
      const spec = diffTableSpec(table, table, table.columns.map((c) => c.name));
      const sendFunctions = await readSendFunctions(client, [{ schema: 'public', name: 'diff_settings' }]);
      const result = await client.query<{ id: string; d: string }>(`SELECT id, encode(${rowDigestSql(spec, sendFunctions, 'r')}, 'hex') AS d FROM diff_settings r ORDER BY id`);
      await client.query('COMMIT');
      return { spec, digests: result.rows };
    });
    const [onSource, onTarget] = await Promise.all([digestsOn(servers.source, pair.source), digestsOn(servers.target, pair.target)]);
    assert.deepEqual(onSource.spec.textColumns, ['moment'], 'the composite goes through text, where the settings matter');
    assert.equal(onSource.digests.length, 3);
    assert.deepEqual(onTarget.digests, onSource.digests);

    // End to end: rows whose keys hold a backslash and a quote come back as literals the source (with
    // standard_conforming_strings off) reads as the same keys.
    await edit(servers.target, pair.target, `DELETE FROM diff_settings WHERE id <> 'plain'`);
    const tables = ['diff_settings'];
    assert.deepEqual(changes(await incrementalSync(pair, { tables, batchSize: 1 })), { diff_settings: [2, 0, 0] });
    assert.deepEqual(changes(await incrementalSync(pair, { tables })), {});
    await assertSameContents(pair, tables);
  });

  test('measures the digest against md5(row::text) on archon_crawled_pages (figures only)', async (t: TestContext) => {
    const database = await filledDatabase(servers.source, 91);
    await servers.source.asOwner(database, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await useDigestSettings(client);
      const catalog = await readCatalog(client, 'public', ['archon_crawled_pages']);
      const spec = specOf(catalog, catalog, 'archon_crawled_pages');
      const sendFunctions = await readSendFunctions(client, [{ schema: 'public', name: 'archon_crawled_pages' }]);
      const timed = async (expression: string) => {
        const started = performance.now();
        const result = await client.query<{ n: number }>(`SELECT count(DISTINCT d)::int AS n FROM (SELECT ${expression} AS d FROM archon_crawled_pages r) s`);
        return { seconds: (performance.now() - started) / 1000, distinct: result.rows[0]?.n ?? 0 };
      };
      await timed('md5(r::text)'); // warm the cache for both
      const results: Record<string, { seconds: number; distinct: number }> = {};
      for (let round = 0; round < 3; round++) {
        for (const [name, expression] of [['md5(row::text)', 'md5(r::text)'], ['row digest', rowDigestSql(spec, sendFunctions, 'r')]] as const) {
          const r = await timed(expression);
          const best = results[name];
          if (!best || r.seconds < best.seconds) results[name] = r;
        }
      }
      const [rowsResult] = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM archon_crawled_pages')).rows;
      await client.query('COMMIT');
      const text = results['md5(row::text)'];
      const digest = results['row digest'];
      assert.ok(text && digest);
      assert.equal(digest.distinct, rowsResult?.n, 'one digest per row');
      t.diagnostic(`archon_crawled_pages, ${rowsResult?.n} rows (best of 3): md5(row::text) ${text.seconds.toFixed(3)} s, row digest ${digest.seconds.toFixed(3)} s (${(text.seconds / digest.seconds).toFixed(1)}x)`);
    });
  });
});
