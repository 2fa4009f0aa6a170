// Incremental sync through the engine: auto and incremental runs end exactly where a full copy would, write
// nothing to unchanged tables, keep readers unblocked, and fail like every other run.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ARCHON_TABLES, CopyError, sync } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, changes, editEveryTable, modes, rowVersions, side } from '../support/sides.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

describe('incremental and auto modes through the engine', () => {
  for (const direction of ['local-to-remote', 'remote-to-local'] as const) {
    test(`${direction}: auto copies a target of other data in full, incremental then moves only edits in all 17 tables, then writes nothing`, async () => {
      const [a, b] = await Promise.all([side(servers.source, 71, 'a'), side(servers.target, 72, 'b')]);
      const [source, target] = direction === 'local-to-remote' ? [a, b] : [b, a];
      const first = await sync({ ...UNGUARDED, source: source.uri, target: target.uri });
      assert.ok(Object.values(modes(first)).every((m) => m === 'full'), `a target holding other data is copied in full: ${JSON.stringify(modes(first))}`);
      await assertEqual(source, target);

      await editEveryTable(source);
      // Incremental, not auto: a table of two rows with three edits has more than 100 % changed, which auto copies in full.
      const second = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'incremental' });
      const edited = changes(second);
      for (const table of ARCHON_TABLES) {
        const result = second.tables.find((t) => t.table === table);
        assert.ok(result && result.mode === 'incremental' && result.inserted + result.updated + result.deleted > 0, `${table}: ${JSON.stringify(result)}`);
      }
      assert.equal(Object.keys(edited).length, ARCHON_TABLES.length);
      await assertEqual(source, target);
      // Generated columns are not copied: the target computed them for the rows it was given.
      const [stale] = await ownerSql(target.server, target.database, `
        SELECT (SELECT count(*)::int FROM archon_crawled_pages WHERE content_search_vector IS DISTINCT FROM to_tsvector('english', content))
             + (SELECT count(*)::int FROM archon_code_examples WHERE content_search_vector IS DISTINCT FROM to_tsvector('english', content || ' ' || summary)) AS n`);
      assert.equal(stale?.n, 0);

      const versions = await rowVersions(target);
      const third = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'incremental', verify: 'checksum' });
      assert.deepEqual(changes(third), {});
      assert.ok(third.tables.every((t) => t.mode === 'incremental' && t.copiedRows === 0));
      assert.deepEqual(await rowVersions(target), versions, 'a run with nothing changed wrote to a table');
      await assertEqual(source, target);
    });
  }

  test('a sequence moves past ids inserted on the source; a row of an outside table pointing at a deleted project fails the run naming it', async () => {
    const [source, target] = await Promise.all([side(servers.source, 73, 'a'), side(servers.target, 74, 'b')]);
    await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'full' });
    await ownerSql(source.server, source.database, `
      INSERT INTO archon_crawled_pages (id, url, chunk_number, content, source_id) SELECT 900000, url, chunk_number + 5000, 'far id', source_id FROM archon_crawled_pages LIMIT 1`);
    const grown = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'incremental' });
    assert.deepEqual(changes(grown), { archon_crawled_pages: [1, 0, 0] });
    const [seq] = await ownerSql(target.server, target.database, `SELECT nextval('archon_crawled_pages_id_seq') > 900000 AS past`);
    assert.equal(seq?.past, true);

    // Archon's project hierarchy lives outside the 17: a row on the target ties two projects together.
    const [pair] = await target.server.asOwner(target.database, async (c) => (await c.query<{ parent: string; child: string }>(
      'SELECT min(id::text) AS parent, max(id::text) AS child FROM archon_projects')).rows);
    assert.ok(pair && pair.parent !== pair.child, 'two projects to link');
    await ownerSql(target.server, target.database, `INSERT INTO archon_project_hierarchy (parent_project_id, child_project_id) VALUES ('${pair.parent}', '${pair.child}')`);
    await ownerSql(source.server, source.database, `DELETE FROM archon_projects WHERE id = '${pair.child}'`);
    const before = await fingerprintDatabase(target.server, target.database);
    await assert.rejects(sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'incremental' }), (error: unknown) => {
      assert.ok(error instanceof CopyError, String(error));
      assert.match(error.message, /archon_project_hierarchy \(not copied\) has a row with .*whose archon_projects row is not in the source/);
      assert.ok(error.constraint);
      return true;
    });
    assert.deepEqual(await fingerprintDatabase(target.server, target.database), before);
  });

  test('readers of a table loaded incrementally are never blocked: a reader with lock_timeout 1 s never times out', async () => {
    const [source, target] = await Promise.all([side(servers.source, 75, 'a'), side(servers.target, 76, 'b')]);
    await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'full' });
    await ownerSql(source.server, source.database, `UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id % 7 = 0`);
    const reader = new pg.Client({ connectionString: target.uri });
    await reader.connect();
    let reads = 0;
    let failure: unknown;
    let running = true;
    const loop = (async () => {
      await reader.query(`SET lock_timeout = '1s'`);
      while (running) {
        await reader.query('SELECT count(*) FROM archon_crawled_pages').then(() => { reads += 1; }, (error: unknown) => { failure = error; });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const result = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'incremental' });
      assert.equal(result.tables.find((t) => t.table === 'archon_crawled_pages')?.mode, 'incremental');
      assert.ok((changes(result).archon_crawled_pages?.[1] ?? 0) > 0);
    } finally {
      running = false;
      await loop;
      await reader.end();
    }
    assert.equal(failure, undefined, `a reader waited more than a second: ${String(failure)}`);
    assert.ok(reads > 0);
    await assertEqual(source, target);
  });

  test('--dry-run in auto mode says per table which mode a sync would use and what it would change, and changes nothing', async () => {
    const [source, target] = await Promise.all([side(servers.source, 79, 'a'), side(servers.target, 80, 'b')]);
    await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'full' });
    await ownerSql(source.server, source.database, `
      UPDATE archon_crawled_pages SET content = 'previewed' WHERE id = (SELECT min(id) FROM archon_crawled_pages);
      DELETE FROM archon_crawled_pages WHERE id = (SELECT max(id) FROM archon_crawled_pages);
      DELETE FROM archon_llm_pricing`);
    const before = await Promise.all([fingerprintDatabase(source.server, source.database), fingerprintDatabase(target.server, target.database), rowVersions(target)]);
    const result = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=json'], { env: { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri } });
    assert.equal(result.code, 0, result.stderr);
    const planLine = result.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event?: string; tables?: { table: string; mode?: string; inserts?: number; updates?: number; deletes?: number; reason?: string }[] }).find((l) => l.event === 'plan');
    const byTable = Object.fromEntries((planLine?.tables ?? []).map((t) => [t.table, t]));
    assert.deepEqual([byTable.archon_crawled_pages?.mode, byTable.archon_crawled_pages?.inserts, byTable.archon_crawled_pages?.updates, byTable.archon_crawled_pages?.deletes], ['incremental', 0, 1, 1]);
    assert.equal(byTable.archon_llm_pricing?.mode, 'full', 'every row of the table changed');
    assert.match(byTable.archon_llm_pricing?.reason ?? '', /more than 35 % of its rows changed/);
    assert.deepEqual([byTable.archon_settings?.mode, byTable.archon_settings?.inserts, byTable.archon_settings?.updates, byTable.archon_settings?.deletes], ['incremental', 0, 0, 0]);
    const after = await Promise.all([fingerprintDatabase(source.server, source.database), fingerprintDatabase(target.server, target.database), rowVersions(target)]);
    assert.deepEqual(after, before);
    const pretty = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'], { env: { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri } });
    assert.match(pretty.stdout, /16 of 17 tables incremental \(2 rows to change\); 1 copied in full/);
  });

  test('a table without a primary key is copied in full within an incremental run, and said so', async () => {
    const [source, target] = await Promise.all([side(servers.source, 77, 'a'), side(servers.target, 78, 'b')]);
    for (const s of [source, target]) await ownerSql(s.server, s.database, 'CREATE TABLE archon_notes (note text, at timestamptz)');
    await ownerSql(source.server, source.database, `INSERT INTO archon_notes VALUES ('one', now()), ('two', NULL)`);
    const events: string[] = [];
    const tables = [...ARCHON_TABLES, 'archon_notes'];
    const result = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, tables, mode: 'incremental', onEvent: (e) => { if (e.type === 'warning') events.push(e.message); } });
    assert.equal(result.tables.find((t) => t.table === 'archon_notes')?.mode, 'full');
    assert.ok(events.some((m) => m.includes('archon_notes is copied in full: no primary key')));
    const [x, y] = await Promise.all([fingerprintDatabase(source.server, source.database, ['archon_notes']), fingerprintDatabase(target.server, target.database, ['archon_notes'])]);
    assert.deepEqual(y, x);
  });
});
