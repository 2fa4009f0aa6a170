// The diff of every table at once on real clusters: one digest COPY, one diff message, a constant number of
// statements per changed table; the target ends equal to the source snapshot, counts and samples equal a
// row-by-row comparison, and the target's own edits since a watermark are told apart.

import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { compareTable } from '../../src/engine/compare.js';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { CopyError } from '../../src/errors.js';
import { BinaryCopyRowCounter } from '../../src/pg/binary-copy.js';
import { readCatalog } from '../../src/pg/catalog.js';
import { changedSinceSql, readServerMark, snapshotBounds, type ServerMark } from '../../src/pg/change-marks.js';
import {
  copyChanged, copyOldRows, createStaging, deleteChanged, diffTables, readChangedKeys,
  type ChangedSinceSql, type DiffKeys, type MultiDiff, type Staging, type TableDiff,
} from '../../src/pg/multi-diff.js';
import { quoteIdent, quoteLiteral } from '../../src/pg/quote.js';
import { readSendFunctions, type DiffTableSpec, type SendFunctions } from '../../src/pg/row-digest-sql.js';
import { beginReadOnly, beginSourceSnapshot, beginTargetTransaction } from '../../src/pg/transactions.js';
import type { TableComparison } from '../../src/types.js';
import { filledDatabase, fingerprintDatabase } from '../support/fixtures.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import { editAsOwner, rowsAsOwner, specOf } from '../support/diff-specs.js';
import { editEveryTable, rowVersions, side, type Side } from '../support/sides.js';
import { STATEMENT_LOG_SETTINGS, StatementLogMark, trafficOf } from '../support/statement-log.js';

// Every server log of this file counts statements, so its clusters log them all.
let servers: TestServers;
before(async () => {
  servers = await testServers({ source: { settings: { ...STATEMENT_LOG_SETTINGS } }, target: { settings: { ...STATEMENT_LOG_SETTINGS } } });
});
after(async () => { await servers?.close(); });

/** The application_name of this file's sync connections: what the statement budget counts. */
const APPLICATION = 'multi-diff-test';

/**
 * Two tables beside the 17 whose keys exercise the text round trip: a three-column key (timestamptz, numeric,
 * varchar, the widest key, so every Archon table's key is padded) and a varchar key, both with values full of
 * quotes, backslashes, commas, braces, spaces and a "NULL".
 */
const ODD_TABLES = ['md_keys', 'md_names'] as const;
const ALL = [...ARCHON_TABLES, ...ODD_TABLES];
const ODD_DDL = `
  CREATE TABLE md_keys (at timestamptz, amount numeric, label varchar(20), note text, PRIMARY KEY (at, amount, label));
  CREATE TABLE md_names (name varchar(40) PRIMARY KEY, note text)`;
const ODD_ROWS = `
  INSERT INTO md_keys VALUES ('2024-02-29 23:59:59.999999+05:30', 1.10, E'o''brien\\\\x', 'same'), ('1999-12-31 12:00:00+00', 'NaN', 'NULL', 'same'),
    ('2000-01-01 00:00:00+00', 0.000001, 'a,b', 'same'), ('0044-03-15 12:00:00+00 BC', -7, '{x}', 'same');
  INSERT INTO md_names VALUES ('plain', 'same'), (E'o''brien\\\\src', 'same'), ('{a,b}', 'same'), ('NULL', 'same'), ('', 'same'), (' sp ', 'same'),
    (E'tab\\there', 'same'), ('ü "q"', 'same')`;

async function oddSide(server: TestServer, seed: number, prefix: string): Promise<Side> {
  const s = await side(server, seed, prefix);
  await editAsOwner(server, s.database, `${ODD_DDL}; ${ODD_ROWS}`);
  return s;
}

async function emptySide(server: TestServer): Promise<Side> {
  const database = await filledDatabase(server, undefined);
  return { server, database, uri: server.ownerUri(database) };
}

async function connect(s: Side): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: s.uri, application_name: APPLICATION });
  await client.connect();
  return client;
}

/** What a committed run leaves for the next one to go by (as the engine records it). */
interface Marks { source: ServerMark; target: ServerMark; xid: string }

interface Run {
  staging: Staging;
  diff: MultiDiff;
  deleted: Map<number, number>;
  copied: Map<number, number>;
  /** compareTable (md5 of every row's text, key by key) in the same snapshots, before applying. */
  rowByRow: TableComparison[];
  marks: Marks;
  /** Statements this file's connections sent each side from createStaging to the last copy (with `count`). */
  statements?: { source: number; target: number } | undefined;
}

interface RunOptions {
  tables?: readonly string[];
  /** The marks of the last committed run: with them, only rows written since are digested. */
  since?: Marks | undefined;
  sampleLimit?: number;
  /** Compare row by row as well (statements on the same connections: not with `count`). */
  rowByRow?: boolean;
  /** Count the statements from the server logs. */
  count?: boolean;
  /** Before deleteChanged, inside both transactions. */
  beforeApply?: (c: { source: pg.Client; target: pg.Client; staging: Staging; diff: MultiDiff }) => Promise<void>;
  replicaRole?: boolean;
}

/**
 * The rows each side may have changed since `since`, for every table: the row part of judgeWatermark (this file's
 * tables keep their definitions, so the catalog part, tested in the watermark tests, would trust them all).
 */
function filtersFrom(since: Marks, now: { source: ServerMark; target: ServerMark }, specs: readonly DiffTableSpec[]): Map<string, ChangedSinceSql> {
  const source = { now: snapshotBounds(now.source.snapshot).xmax, since: snapshotBounds(since.source.snapshot).xmin };
  const target = { now: snapshotBounds(now.target.snapshot).xmax, since: snapshotBounds(since.target.snapshot).xmin, ownXid: BigInt(since.xid) };
  return new Map(specs.map((spec) => [spec.sql, { source: changedSinceSql('r', source), target: changedSinceSql('r', target) }]));
}

/** The specs of `tables` from both catalogs, and each side's send functions, in the callers' transactions. */
async function prepare(source: pg.Client, target: pg.Client, tables: readonly string[]): Promise<{ specs: DiffTableSpec[]; sendFunctions: { source: SendFunctions; target: SendFunctions } }> {
  const [sourceCatalog, targetCatalog] = [await readCatalog(source, 'public', tables), await readCatalog(target, 'public', tables)];
  const refs = tables.map((name) => ({ schema: 'public', name }));
  return {
    specs: tables.map((name) => specOf(sourceCatalog, targetCatalog, name)),
    sendFunctions: { source: await readSendFunctions(source, refs), target: await readSendFunctions(target, refs) },
  };
}

/** What `verify` reports today (md5 of every row's text, key by key), in the callers' transactions. */
async function compareRowByRow(source: pg.Client, target: pg.Client, specs: readonly DiffTableSpec[], sampleLimit: number): Promise<TableComparison[]> {
  const out: TableComparison[] = [];
  for (const spec of specs) {
    out.push(await compareTable(source, target, {
      schema: 'public', name: nameOf(spec), sql: spec.sql, key: spec.key, columns: [...spec.columns].sort(), sourceOnlyColumns: [], targetOnlyColumns: [],
    }, { sampleLimit }));
  }
  return out;
}

/** One run as the engine will make it: the source's snapshot, the target's transaction in replica role, then apply and commit. */
async function multiSync(a: Side, b: Side, options: RunOptions = {}): Promise<Run> {
  const tables = options.tables ?? ALL;
  const [source, target] = await Promise.all([connect(a), connect(b)]);
  try {
    await beginSourceSnapshot(source, { lockTimeoutMs: 10_000, lockTables: tables.map((t) => quoteIdent(t)) });
    const { xid } = await beginTargetTransaction(target, { lockTimeoutMs: 10_000, maintenanceWorkMem: '64MB', maxParallelMaintenanceWorkers: 0, lock: 'exclusive' });
    if (options.replicaRole !== false) await target.query('SET LOCAL session_replication_role = replica');
    const { specs, sendFunctions } = await prepare(source, target, tables);
    const now = { source: await readServerMark(source), target: await readServerMark(target) };
    let changedSince: Map<string, ChangedSinceSql> | undefined;
    if (options.since) {
      changedSince = filtersFrom(options.since, now, specs);
      assert.equal(changedSince?.size, tables.length, 'the watermark is trusted for every table');
    }
    const marks = options.count ? { source: StatementLogMark.now(servers.source.cluster!), target: StatementLogMark.now(servers.target.cluster!) } : undefined;

    const staging = await createStaging(target, specs);
    const diff = await diffTables(source, target, staging, { sendFunctions, changedSince, sampleLimit: options.sampleLimit ?? 0 });
    const rowByRow = options.rowByRow ? await compareRowByRow(source, target, specs, options.sampleLimit ?? 0) : [];
    await options.beforeApply?.({ source, target, staging, diff });
    // Children first, as the engine orders them (in replica role the order is not needed for correctness).
    const order = specs.map((_, tag) => tag).reverse();
    const { deleted, toCopy } = await deleteChanged(target, staging, diff, order);
    const copied = new Map<number, number>();
    for (const [tag, keys] of toCopy) copied.set(tag, (await copyChanged(source, target, staging, tag, keys)).rows);
    const statements = marks ? {
      source: trafficOf(marks.source.read(), APPLICATION).statements,
      target: trafficOf(marks.target.read(), APPLICATION).statements,
    } : undefined;

    // The watermark's target mark is read last, as the engine reads it before COMMIT.
    const committed: Marks = { source: now.source, target: await readServerMark(target), xid };
    await target.query('COMMIT');
    await source.query('COMMIT');
    return { staging, diff, deleted, copied, rowByRow, marks: committed, statements };
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

/** The tables that changed, as [inserts, updates, deletes], after checking the run applied exactly the diff. */
function changes(run: Run): Record<string, [number, number, number]> {
  const out: Record<string, [number, number, number]> = {};
  run.diff.tables.forEach((t, tag) => {
    assert.equal(t.checks, 0, `${t.table}: rows left to recheck`);
    assert.equal(run.deleted.get(tag) ?? 0, t.onlyOnTarget.count + t.differing.count, `${t.table}: rows deleted`);
    assert.equal(run.copied.get(tag) ?? 0, t.onlyOnSource.count + t.differing.count, `${t.table}: rows copied`);
    if (t.onlyOnSource.count + t.differing.count + t.onlyOnTarget.count > 0) {
      out[nameOf(run.staging.tables[tag]!)] = [t.onlyOnSource.count, t.differing.count, t.onlyOnTarget.count];
    }
  });
  return out;
}

/** A diff's keys as compareTable writes them: `column=value`, joined with `, `. */
function described(spec: DiffTableSpec, keys: DiffKeys): { count: number; keys: string[] } {
  return { count: keys.count, keys: keys.keys.map((key) => spec.key.map((c, i) => `${c}=${key[i]}`).join(', ')) };
}

function assertSameAsRowByRow(run: Pick<Run, 'staging' | 'diff' | 'rowByRow'>): void {
  assert.equal(run.rowByRow.length, run.diff.tables.length);
  run.diff.tables.forEach((t, tag) => {
    const spec = run.staging.tables[tag]!;
    const expected = run.rowByRow[tag]!;
    const got = { sourceRows: t.sourceRows, targetRows: t.targetRows, onlyOnSource: described(spec, t.onlyOnSource), onlyOnTarget: described(spec, t.onlyOnTarget), differing: described(spec, t.differing) };
    const want = { sourceRows: expected.sourceRows, targetRows: expected.targetRows, onlyOnSource: expected.onlyOnSource, onlyOnTarget: expected.onlyOnTarget, differing: expected.differing };
    assert.deepEqual(got, want, `${t.table} against a row-by-row comparison`);
  });
}

async function assertSameContents(a: Side, b: Side, tables: readonly string[] = ALL): Promise<void> {
  const [x, y] = await Promise.all([fingerprintDatabase(a.server, a.database, tables), fingerprintDatabase(b.server, b.database, tables)]);
  for (const table of tables) assert.deepEqual(y[table], x[table], `${table} differs`);
}

function tableDiff(run: Pick<Run, 'diff'>, name: string): TableDiff {
  const found = run.diff.tables.find((t) => t.table === `"public".${quoteIdent(name)}`);
  assert.ok(found, `${name} was diffed`);
  return found;
}

/** Keys of a sample, each as its columns' text joined with `|`, for hand-made expectations. */
function keysOf(keys: DiffKeys): string[] {
  assert.equal(keys.count, keys.keys.length, 'the sample holds every key');
  return keys.keys.map((key) => key.join('|'));
}

/** Sorted the way the diff samples keys: by each column's text in byte order. */
function byBytes(keys: readonly string[]): string[] {
  return [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
}

/**
 * Every staged key reads back as itself from its text on both sides: `send(key::text::type) = send(key)`, with
 * the types the staging casts to (binary forms, so 1.10 and 1.1 differ), for every key column of every table.
 */
async function assertKeysReadBack(clients: readonly pg.Client[], staging: Staging): Promise<void> {
  assert.deepEqual([...new Set(staging.keyTypes.flat())].sort(), ['bigint', 'character varying', 'integer', 'numeric', 'text', 'timestamp with time zone', 'uuid']);
  for (const client of clients) {
    const send = await readSendFunctions(client, staging.tables.map((spec) => ({ schema: 'public', name: nameOf(spec) })));
    const checks = staging.tables.flatMap((spec, tag) => spec.key.map((column, i) => {
      const f = send.get(spec.sql)?.get(column);
      assert.ok(f, `${spec.sql}.${column} has a send function`);
      const value = `r.${quoteIdent(column)}`;
      return `SELECT ${quoteLiteral(`${spec.sql}.${column}`)} AS what, count(*)::int AS rows,
                     count(*) FILTER (WHERE ${f}(${value}::text::${staging.keyTypes[tag]![i]!}) IS DISTINCT FROM ${f}(${value}))::int AS differing
                FROM ONLY ${spec.sql} r`;
    }));
    const result = await client.query<{ what: string; rows: number; differing: number }>(checks.join(' UNION ALL '));
    for (const row of result.rows) assert.equal(row.differing, 0, `${row.what}: a key does not read back as itself`);
    assert.ok(result.rows.every((row) => row.rows > 0), 'every key column has rows to check');
  }
}

function nameOf(spec: DiffTableSpec): string {
  return spec.sql.split('.')[1]!.replaceAll('"', '');
}

describe('the diff of every table at once', () => {
  test('edits of every kind on both sides of 19 tables: counts and samples equal a row-by-row comparison, and one pass makes the target equal', async () => {
    const [a, b] = await Promise.all([oddSide(servers.source, 101, 'a'), oddSide(servers.target, 101, 'b')]);
    await editEveryTable(a);
    const [x, y] = await rowsAsOwner<{ id: string; url: string; chunk_number: number }>(a.server, a.database, 'SELECT id::text, url, chunk_number FROM archon_crawled_pages ORDER BY id LIMIT 2');
    assert.ok(x && y);
    const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
    await editAsOwner(a.server, a.database, `
      UPDATE archon_crawled_pages SET chunk_number = -1 WHERE id = ${x.id};
      UPDATE archon_crawled_pages SET url = ${literal(x.url)}, chunk_number = ${x.chunk_number} WHERE id = ${y.id};
      UPDATE archon_crawled_pages SET url = ${literal(y.url)}, chunk_number = ${y.chunk_number} WHERE id = ${x.id};
      INSERT INTO md_keys VALUES ('2024-02-29 23:59:59.999999+05:30', 1.10, 'only "src"', 'new'), ('2000-01-01 00:00:00+00', 0.000001, E'a,b\\\\c', 'new');
      UPDATE md_keys SET note = 'edited' WHERE label = 'NULL';
      DELETE FROM md_names WHERE name = ' sp ';
      UPDATE md_names SET note = 'edited' WHERE name = E'o''brien\\\\src'`);
    await editAsOwner(b.server, b.database, `
      INSERT INTO archon_settings (key, value) VALUES ('stray', 'only on the target');
      UPDATE archon_crawled_pages SET content = 'edited on the target' WHERE id = (SELECT max(id) FROM archon_crawled_pages);
      DELETE FROM archon_page_metadata WHERE id = (SELECT id FROM archon_page_metadata ORDER BY id LIMIT 1);
      UPDATE archon_sources SET title = title;
      INSERT INTO md_keys VALUES ('0044-03-15 12:00:00+00 BC', -7, '{y}', 'stray');
      INSERT INTO md_names VALUES ('NULL2', 'stray'), ('{a,b,c}', 'stray')`);

    const first = await multiSync(a, b, { sampleLimit: 3, rowByRow: true });
    assertSameAsRowByRow(first);
    const moved = changes(first);
    assert.equal(Object.keys(moved).length, ALL.length, `every table changed: ${JSON.stringify(moved)}`);
    assert.deepEqual(moved.md_keys, [2, 1, 1]);
    assert.deepEqual(moved.md_names, [0, 1, 3]);
    assert.deepEqual(keysOf(tableDiff(first, 'md_names').onlyOnTarget), byBytes([' sp ', 'NULL2', '{a,b,c}']));
    assert.deepEqual(keysOf(tableDiff(first, 'md_keys').onlyOnSource), byBytes(['2000-01-01 00:00:00+00|0.000001|a,b\\c', '2024-02-29 18:29:59.999999+00|1.10|only "src"']));
    for (const t of first.diff.tables) {
      assert.deepEqual([t.targetEdits.deleted.count, t.targetEdits.inserted.count, t.targetEdits.edited.count], [0, 0, 0], 'no watermark, no target edits');
    }
    await assertSameContents(a, b);

    const versions = await rowVersions(b);
    const second = await multiSync(a, b, { rowByRow: true });
    assertSameAsRowByRow(second);
    assert.deepEqual(changes(second), {});
    assert.deepEqual(await rowVersions(b), versions, 'a run with nothing changed wrote to a table');
  });

  test('with a watermark: only rows written since are digested, the target\'s own edits are classified, rewrites with the same values change nothing; every key\'s text reads back as itself', async () => {
    const [a, b] = await Promise.all([oddSide(servers.source, 111, 'a'), oddSide(servers.target, 112, 'b')]);
    // Other data on each side: the keys read back on both, those only on the target included.
    const first = await multiSync(a, b, { beforeApply: ({ source, target, staging }) => assertKeysReadBack([source, target], staging) });
    const second = await multiSync(a, b, { since: first.marks, sampleLimit: 5 });
    assert.deepEqual(changes(second), {});
    // The source did not change: the same keys stream, each without its digest (4 + 16 bytes become a 4-byte NULL).
    const rows = first.diff.tables.reduce((sum, t) => sum + t.sourceRows, 0);
    assert.equal(second.diff.bytes, first.diff.bytes - 16 * rows, 'every unchanged row streamed its key and no digest');

    const settings = (await rowsAsOwner<{ id: string }>(a.server, a.database, 'SELECT id::text FROM archon_settings ORDER BY id')).map((r) => r.id);
    assert.ok(settings.length >= 4, 'the generated data has four settings rows');
    const [bothEdit, targetDeletes, targetEdits, targetRewrites] = settings as [string, string, string, string];
    const sourceDeletes = settings[4];
    await editAsOwner(a.server, a.database, `
      UPDATE archon_settings SET value = 'edited on the source' WHERE id = '${bothEdit}';
      INSERT INTO archon_settings (id, key, value) VALUES ('00000000-0000-4000-8000-00000000b001', 'new on the source', 'x');
      ${sourceDeletes ? `DELETE FROM archon_settings WHERE id = '${sourceDeletes}';` : ''}`);
    await editAsOwner(b.server, b.database, `
      UPDATE archon_settings SET value = 'edited on the target' WHERE id IN ('${bothEdit}', '${targetEdits}');
      DELETE FROM archon_settings WHERE id = '${targetDeletes}';
      INSERT INTO archon_settings (id, key, value) VALUES ('00000000-0000-4000-8000-00000000b002', 'stray on the target', 'x');
      UPDATE archon_settings SET value = value WHERE id = '${targetRewrites}';
      UPDATE md_keys SET note = 'edited on the target' WHERE label = 'a,b';
      UPDATE md_keys SET note = note WHERE label = 'NULL';
      UPDATE md_names SET note = note WHERE name = E'o''brien\\\\src';
      UPDATE md_names SET note = 'edited on the target' WHERE name = '{a,b}'`);

    // Rows the target rewrote are rechecked against the source by key (recheckTargetWrites inside diffTables).
    let rechecking: MultiDiff | undefined;
    const third = await multiSync(a, b, { since: second.marks, sampleLimit: 5, rowByRow: true, beforeApply: ({ diff }) => { rechecking = diff; return Promise.resolve(); } });
    assert.ok(rechecking);
    assertSameAsRowByRow(third);
    const s = tableDiff(third, 'archon_settings');
    assert.deepEqual(keysOf(s.onlyOnSource), byBytes(['00000000-0000-4000-8000-00000000b001', targetDeletes]));
    assert.deepEqual(keysOf(s.onlyOnTarget), byBytes(['00000000-0000-4000-8000-00000000b002', ...(sourceDeletes ? [sourceDeletes] : [])]));
    assert.deepEqual(keysOf(s.differing), byBytes([bothEdit, targetEdits]));
    assert.deepEqual(keysOf(s.targetEdits.deleted), [targetDeletes], 'a row the source kept and the target deleted');
    assert.deepEqual(keysOf(s.targetEdits.inserted), ['00000000-0000-4000-8000-00000000b002'], 'a row only the target wrote');
    assert.deepEqual(keysOf(s.targetEdits.edited), byBytes([bothEdit, targetEdits]), 'rows the target wrote with other values (one also edited on the source)');
    const k = tableDiff(third, 'md_keys');
    assert.deepEqual([keysOf(k.differing), keysOf(k.targetEdits.edited)], [['2000-01-01 00:00:00+00|0.000001|a,b'], ['2000-01-01 00:00:00+00|0.000001|a,b']]);
    const n = tableDiff(third, 'md_names');
    assert.deepEqual([keysOf(n.differing), keysOf(n.targetEdits.edited)], [['{a,b}'], ['{a,b}']]);
    for (const t of third.diff.tables.filter((d) => !['archon_settings', 'md_keys', 'md_names'].some((name) => d.table.endsWith(`"${name}"`)))) {
      assert.deepEqual([t.onlyOnSource.count, t.onlyOnTarget.count, t.differing.count, t.targetEdits.edited.count], [0, 0, 0, 0], `${t.table} did not change`);
    }
    assert.deepEqual(changes(third), { archon_settings: [2, 2, sourceDeletes ? 2 : 1], md_keys: [0, 1, 0], md_names: [0, 1, 0] });
    await assertSameContents(a, b);
  });

  test('counts each table\'s rows from one stream even when a Parallel Append interleaves the tables', async () => {
    const [a, b] = await Promise.all([emptySide(servers.source), emptySide(servers.target)]);
    const ddl = `CREATE TABLE md_big_a (id int PRIMARY KEY, v text); CREATE TABLE md_big_b (id int PRIMARY KEY, v text);
      INSERT INTO md_big_a SELECT g, md5(g::text) FROM generate_series(1, 60000) g; INSERT INTO md_big_b SELECT g, md5(g::text) FROM generate_series(1, 40000) g;
      ANALYZE md_big_a; ANALYZE md_big_b`;
    await Promise.all([editAsOwner(a.server, a.database, ddl), editAsOwner(b.server, b.database, `${ddl}; DELETE FROM md_big_b WHERE id % 1000 = 0`)]);
    const tables = ['md_big_a', 'md_big_b'];
    const [source, target] = await Promise.all([connect(a), connect(b)]);
    try {
      await beginSourceSnapshot(source, { lockTimeoutMs: 10_000, lockTables: [] });
      await source.query(`SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2`);
      await target.query('BEGIN; SET LOCAL session_replication_role = replica');
      const { specs, sendFunctions } = await prepare(source, target, tables);
      const plan = (await source.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT 0::int2, id::text FROM md_big_a UNION ALL SELECT 1::int2, id::text FROM md_big_b`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /Parallel Append/, 'the source plans a Parallel Append');
      const staging = await createStaging(target, specs);
      // Progress as it arrives: a point where the second table has rows while the first is not complete shows interleaving.
      let interleaved = false;
      const diff = await diffTables(source, target, staging, {
        sendFunctions, onRows: (byTable) => { if (byTable[1]! > 0 && byTable[0]! < 60000) interleaved = true; },
      });
      assert.deepEqual(diff.tables.map((t) => [t.sourceRows, t.targetRows, t.onlyOnSource.count]), [[60000, 60000, 0], [40000, 39960, 40]]);
      assert.ok(interleaved, 'the rows of the two tables arrived interleaved');
      await target.query('ROLLBACK');
      await source.query('ROLLBACK');
    } finally {
      await Promise.all([source.end(), target.end()]);
    }
  });

  test('the old versions a run deletes or overwrites stream out of the target, and the changed keys are listed', async () => {
    const [a, b] = await Promise.all([oddSide(servers.source, 131, 'a'), oddSide(servers.target, 131, 'b')]);
    await editAsOwner(a.server, a.database, `UPDATE md_keys SET note = 'edited' WHERE label IN ('NULL', '{x}'); DELETE FROM md_names WHERE name = 'plain';
      INSERT INTO md_names VALUES ('new', 'new'); UPDATE archon_crawled_pages SET content = 'edited' WHERE id IN (SELECT id FROM archon_crawled_pages ORDER BY id LIMIT 3)`);
    const oldText = `SELECT coalesce(string_agg(r::text, '/' ORDER BY r::text), '') AS t FROM md_keys r WHERE label IN ('NULL', '{x}')`;
    await multiSync(a, b, {
      beforeApply: async ({ target, staging, diff }) => {
        const [before] = (await target.query<{ t: string }>(oldText)).rows;
        const tag = staging.tables.findIndex((spec) => spec.sql === '"public"."md_keys"');
        const names = staging.tables.findIndex((spec) => spec.sql === '"public"."md_names"');
        const pages = staging.tables.findIndex((spec) => spec.sql === '"public"."archon_crawled_pages"');
        const listed = await readChangedKeys(target, staging, [tag, names, pages], ['u', 'd']);
        assert.deepEqual([listed.get(tag)?.count, listed.get(names)?.count, listed.get(pages)?.count], [2, 1, 3]);
        assert.deepEqual(listed.get(names)?.literals, ['{plain}']);
        assert.deepEqual((await readChangedKeys(target, staging, [names], ['i'])).get(names), { count: 1, literals: ['{new}'] });

        for (const [which, expected] of [[tag, 2], [names, 1], [pages, 3]] as const) {
          const old = copyOldRows(target, staging, which);
          assert.equal(old.format, 'binary');
          const counter = new BinaryCopyRowCounter();
          const kept: Buffer[] = [];
          await pipeline(old.stream, counter, new Writable({ write(chunk: Buffer, _encoding, callback) { kept.push(chunk); callback(); } }));
          assert.equal(counter.rows, expected, `${staging.tables[which]!.sql}: old rows`);
          assert.equal(diff.tables[which]!.differing.count + diff.tables[which]!.onlyOnTarget.count, expected);
          if (which === tag) {
            // Loaded back into a table of the same shape, they are the target's rows as they were.
            await target.query('CREATE TEMP TABLE md_keys_old (LIKE md_keys) ON COMMIT DROP');
            await pipeline(Readable.from(kept), target.query(copyFrom(`COPY md_keys_old (${old.columns.map(quoteIdent).join(', ')}) FROM STDIN (FORMAT binary)`)));
            const [got] = (await target.query<{ t: string }>(oldText.replace('FROM md_keys r', 'FROM md_keys_old r'))).rows;
            assert.equal(got?.t, before?.t);
          }
        }
      },
    });
    await assertSameContents(a, b);
  });

  test('a verify reads the same diff without the replica role; a sync refuses without it, when the target changed under the diff, and when a key does not come back', async () => {
    const [a, b] = await Promise.all([oddSide(servers.source, 141, 'a'), oddSide(servers.target, 141, 'b')]);
    await editAsOwner(a.server, a.database, `UPDATE archon_sources SET summary = 'changed' WHERE source_id = (SELECT min(source_id) FROM archon_sources);
      INSERT INTO md_names VALUES ('new', 'new'), ('new 2', 'new'); DELETE FROM md_keys WHERE label = 'NULL';
      UPDATE archon_crawled_pages SET content = 'edited' WHERE id % 7 = 0`);
    const before = await fingerprintDatabase(b.server, b.database, ALL);

    // As verify would read it: a read-write repeatable-read target transaction (temporary tables), role untouched.
    const [source, target] = await Promise.all([connect(a), connect(b)]);
    try {
      await beginSourceSnapshot(source, { lockTimeoutMs: 10_000, lockTables: [] });
      await beginReadOnly(target, { lockTimeoutMs: 10_000, lockTables: [], readOnly: false });
      const { specs, sendFunctions } = await prepare(source, target, ALL);
      const staging = await createStaging(target, specs);
      const diff = await diffTables(source, target, staging, { sendFunctions, sampleLimit: 4, requireReplica: false });
      assertSameAsRowByRow({ staging, diff, rowByRow: await compareRowByRow(source, target, specs, 4) });
      assert.equal(tableDiff({ diff }, 'archon_crawled_pages').differing.keys.length, 4, 'a sample of 4 of the edited pages');
    } finally {
      await Promise.all([source.end(), target.end()]);
    }

    const rejects = (options: RunOptions, message: RegExp) => assert.rejects(multiSync(a, b, options), (error: unknown) => {
      assert.ok(error instanceof CopyError, String(error));
      assert.match(error.message, message);
      return true;
    });
    await rejects({ replicaRole: false }, /incremental sync needs session_replication_role = replica on the target \(it is origin\)/);
    await rejects({
      beforeApply: async ({ target }) => { await target.query(`DELETE FROM archon_sources WHERE source_id = (SELECT min(source_id) FROM archon_sources)`); },
    }, /"archon_sources": deleted 0 rows where the diff expected 1/);
    await rejects({
      beforeApply: async ({ source, target, staging }) => {
        const tag = staging.tables.findIndex((spec) => spec.sql === '"public"."md_names"');
        // A key the source does not hold: what a key whose text does not read back as itself looks like.
        await assert.rejects(copyChanged(source, target, staging, tag, { count: 2, literals: ['{new,"not there"}'] }), /md_names": the source returned 1 rows for 2 new and changed keys/);
        throw new CopyError('checked');
      },
    }, /checked/);
    assert.deepEqual(await fingerprintDatabase(b.server, b.database, ALL), before);
  });
});

describe('statements per side (counted from the server logs)', () => {
  test('nothing changed: source 1, target 3, for 19 tables as for 2; with changes, 1 more on the target and 1 a changed table on each side, however many keys', async (t: TestContext) => {
    const [a, b] = await Promise.all([oddSide(servers.source, 151, 'a'), oddSide(servers.target, 151, 'b')]);
    // Target: create, digest COPY, diff; with changes one message of deletes (and keys to copy), and one COPY a
    // table with rows to copy; a recheck adds a COPY and a message. Source: the digest COPY, one COPY a table with
    // rows to copy, one for a recheck.
    const budget = (copiedTables: number, changed: boolean, rechecks: boolean) => ({
      source: 1 + copiedTables + (rechecks ? 1 : 0),
      target: 3 + (changed ? 1 : 0) + copiedTables + (rechecks ? 2 : 0),
    });
    const measure = async (label: string, options: RunOptions, copiedTables: number, rechecks = false) => {
      const run = await multiSync(a, b, { ...options, count: true });
      const changed = Object.keys(changes(run)).length;
      t.diagnostic(`${label}: source ${run.statements?.source}, target ${run.statements?.target} (${changed} tables changed, ${run.copied.size} copied)`);
      assert.equal(run.copied.size, copiedTables, `${label}: tables copied`);
      assert.deepEqual(run.statements, budget(copiedTables, changed > 0, rechecks), label);
      return run;
    };
    await measure('19 tables, nothing changed', {}, 0);
    await measure('2 tables, nothing changed', { tables: ['archon_settings', 'md_keys'] }, 0);

    const edits = (rows: number) => `
      UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id IN (SELECT id FROM archon_crawled_pages ORDER BY id LIMIT ${rows});
      DELETE FROM archon_code_examples WHERE id IN (SELECT id FROM archon_code_examples ORDER BY id LIMIT ${Math.min(rows, 2)});
      INSERT INTO md_names SELECT 'added ' || g || ' ' || ${rows}, 'x' FROM generate_series(1, ${rows}) g`;
    await editAsOwner(a.server, a.database, edits(1));
    await measure('3 tables changed, 1 key each (2 with rows to copy)', {}, 2);
    await editAsOwner(a.server, a.database, edits(200));
    const many = await measure('3 tables changed, 200 keys each (2 with rows to copy)', {}, 2);
    assert.equal(tableDiff(many, 'archon_crawled_pages').differing.count, 200);

    // Rows the target rewrote with the same values, and rows it changed, in two tables: one recheck for both.
    await editAsOwner(b.server, b.database, `UPDATE archon_crawled_pages SET content = content WHERE id IN (SELECT id FROM archon_crawled_pages ORDER BY id DESC LIMIT 50);
      UPDATE md_keys SET note = 'target' WHERE label = 'NULL'; UPDATE md_names SET note = note`);
    await measure('a watermark, rows rewritten on the target in 3 tables (1 of them changed)', { since: many.marks }, 1, true);
  });
});
