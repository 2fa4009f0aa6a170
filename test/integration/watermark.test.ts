// Watermarks: after a committed sync, the next run digests only rows written since, and still ends exactly equal,
// whoever wrote them and whenever their transaction began; it trusts a watermark only between the same databases.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { sync, verify, type PreviewedPlan, type SyncOptions, type SyncResult } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, changes, editEveryTable, rowVersions, side, type Side } from '../support/sides.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

type Direction = 'local-to-remote' | 'remote-to-local';

function run(source: Side, target: Side, extra: Partial<SyncOptions> = {}, direction: Direction = 'local-to-remote'): Promise<SyncResult> {
  return sync({ ...UNGUARDED, source: source.uri, target: target.uri, history: { direction, sourceDb: 'local', targetDb: 'remote' }, ...extra });
}

/** A client inside a transaction that already has its id: it began before whatever runs next. */
async function openWriter(s: Side): Promise<pg.Client> {
  const client = await s.server.owner(s.database);
  await client.query('BEGIN');
  await client.query('SELECT txid_current()');
  return client;
}

describe('watermarks', () => {
  for (const direction of ['local-to-remote', 'remote-to-local'] as const) {
    test(`${direction}: the run after a committed sync compares only rows written since, heals the target's own edits and ends equal`, async () => {
      const [a, b] = await Promise.all([side(servers.source, 91, 'a'), side(servers.target, 92, 'b')]);
      const [source, target] = direction === 'local-to-remote' ? [a, b] : [b, a];
      const first = await run(source, target, { mode: 'full' }, direction);
      assert.equal(first.comparedSince, undefined, 'the first run has no watermark to go by');

      const versions = await rowVersions(target);
      const second = await run(source, target, { mode: 'incremental' }, direction);
      assert.equal(second.comparedSince, first.syncId);
      assert.deepEqual(changes(second), {});
      assert.deepEqual(await rowVersions(target), versions, 'a run with nothing changed wrote to a table');

      // The source edited in every table; the target on its own: an edit, a delete, a stray row, an update that changes nothing.
      await editEveryTable(source);
      await ownerSql(target.server, target.database, `
        UPDATE archon_settings SET description = 'edited on the target' WHERE key = (SELECT max(key) FROM archon_settings);
        DELETE FROM archon_crawled_pages WHERE id = (SELECT max(id) FROM archon_crawled_pages);
        INSERT INTO archon_crawled_pages (url, chunk_number, content, metadata, source_id)
          SELECT url || '#stray', chunk_number, 'stray', metadata, source_id FROM archon_crawled_pages WHERE id = (SELECT min(id) FROM archon_crawled_pages);
        UPDATE archon_sources SET title = title WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
      let previewed: PreviewedPlan | undefined;
      const third = await run(source, target, { mode: 'incremental', confirm: (plan) => { previewed = plan; return true; } }, direction);
      assert.equal(third.comparedSince, second.syncId);
      // The target's own edits, told apart by the watermark (the shared contract with the deletion guard). The
      // source edits every table too, so a row both sides touched may count as the target's update or not at all.
      const edits = (plan: PreviewedPlan | undefined, name: string) => plan?.preview.tables.find((t) => t.table === name)?.targetEdits;
      const pages = edits(previewed, 'archon_crawled_pages');
      const touched = (e: typeof pages) => (e ? e.inserted + e.updated + e.deleted : -1);
      assert.ok(touched(pages) >= 1 && touched(pages) <= 2, `the page deleted and the stray one: ${JSON.stringify(pages)}`);
      assert.ok(pages?.keys.length === touched(pages) && pages.keys.every((key) => /^id=\d+$/.test(key)), `keys as column=value: ${JSON.stringify(pages)}`);
      assert.deepEqual(edits(previewed, 'archon_project_sources'), { inserted: 0, updated: 0, deleted: 0, keys: [] }, 'a table the target left alone');
      assert.equal(first.plan.preview.tables[0]?.targetEdits, undefined, 'no watermark, no target edits');
      const moved = changes(third);
      assert.equal(Object.keys(moved).length, 17, `edits in every table were moved: ${JSON.stringify(moved)}`);
      await assertEqual(source, target);

      // Rows the target rewrote with the values they had (tables without an updated_at trigger): their digests are
      // checked, and nothing is written.
      await ownerSql(target.server, target.database, 'UPDATE archon_sources SET title = title; UPDATE archon_crawled_pages SET content = content');
      const rewritten = await rowVersions(target);
      const fourth = await run(source, target, { mode: 'incremental', verify: 'checksum' }, direction);
      assert.deepEqual(fourth.plan.preview.tables.find((t) => t.table === 'archon_sources')?.targetEdits, { inserted: 0, updated: 0, deleted: 0, keys: [] }, 'a rewrite with the same values is no edit');
      assert.equal(fourth.comparedSince, third.syncId);
      assert.deepEqual(changes(fourth), {});
      assert.deepEqual(await rowVersions(target), rewritten, 'rows the target rewrote unchanged were written again');
    });
  }

  test('verify goes by the same watermark: it reads only rows written since, finds edits on either side, and says when it reads every row', async () => {
    const [source, target] = await Promise.all([side(servers.source, 95, 'a'), side(servers.target, 96, 'b')]);
    const uris = { source: source.uri, target: target.uri };
    const without = await verify({ ...uris, watermark: false });
    assert.equal(without.comparedSince, undefined);
    assert.match(without.readEveryRow?.archon_sources ?? '', /watermark: false/);
    const first = await run(source, target, { mode: 'full' });
    const equal = await verify(uris);
    assert.equal(equal.equal, true, JSON.stringify(equal.tables.filter((t) => !t.equal)));
    assert.equal(equal.comparedSince, first.syncId, 'an unchanged pair is verified by the watermark');
    assert.deepEqual(equal.readEveryRow, {}, 'the watermark vouches for every keyed table');
    await ownerSql(target.server, target.database, `UPDATE archon_settings SET description = 'edited on the target' WHERE key = (SELECT min(key) FROM archon_settings)`);
    await ownerSql(source.server, source.database, `DELETE FROM archon_crawled_pages WHERE id = (SELECT min(id) FROM archon_crawled_pages)`);
    const edited = await verify(uris);
    assert.equal(edited.comparedSince, first.syncId);
    assert.equal(edited.equal, false);
    const byName = (name: string) => edited.tables.find((t) => t.table === name);
    assert.equal(byName('archon_settings')?.differing.count, 1, 'the target\'s own edit');
    assert.equal(byName('archon_crawled_pages')?.onlyOnTarget.count, 1, 'the row the source deleted');
    assert.equal(edited.tables.filter((t) => !t.equal).length, 2, JSON.stringify(edited.tables.filter((t) => !t.equal).map((t) => t.table)));
  });

  test('a transaction that began before a run and wrote after its COMMIT is seen by the next run, on either side', async () => {
    const [source, target] = await Promise.all([side(servers.source, 93, 'a'), side(servers.target, 94, 'b')]);
    const first = await run(source, target, { mode: 'full' });
    // Their ids are older than the run's: only "still running when the run took its snapshot" tells them apart.
    const [sourceWriter, targetWriter] = await Promise.all([openWriter(source), openWriter(target)]);
    try {
      const second = await run(source, target, { mode: 'incremental' });
      assert.equal(second.comparedSince, first.syncId);
      await sourceWriter.query(`UPDATE archon_sources SET title = 'late source edit' WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
      await targetWriter.query(`UPDATE archon_settings SET description = 'late target edit' WHERE key = (SELECT min(key) FROM archon_settings)`);
      await targetWriter.query('DELETE FROM archon_task_history WHERE id = (SELECT min(id::text)::uuid FROM archon_task_history)');
      await Promise.all([sourceWriter.query('COMMIT'), targetWriter.query('COMMIT')]);
    } finally {
      await Promise.all([sourceWriter.end(), targetWriter.end()]);
    }
    const third = await run(source, target, { mode: 'incremental' });
    assert.ok(third.comparedSince !== undefined, 'the second run left a watermark');
    assert.deepEqual(changes(third), { archon_sources: [0, 1, 0], archon_settings: [0, 1, 0], archon_task_history: [1, 0, 0] });
    await assertEqual(source, target);
  });

  test('a watermark is trusted only between the same two databases, from a committed run, for the same columns', async () => {
    const [source, target] = await Promise.all([side(servers.source, 95, 'a'), side(servers.target, 96, 'b')]);
    const first = await run(source, target, { mode: 'full' });

    // Another database with the same rows (a file copy keeps every row's transaction id) is not the same source.
    const copyName = `${source.database}_copy`;
    await source.server.admin('postgres', (c) => c.query(`CREATE DATABASE "${copyName}" TEMPLATE "${source.database}" STRATEGY FILE_COPY`));
    const copy: Side = { server: source.server, database: copyName, uri: source.server.ownerUri(copyName) };
    const fromCopy = await run(copy, target, { mode: 'incremental' });
    assert.equal(fromCopy.comparedSince, undefined, 'a watermark of another source database was used');
    assert.deepEqual(changes(fromCopy), {});
    // The copy's watermark is the newest on the target, but not this source's: the next run goes by its own.
    const again = await run(source, target, { mode: 'incremental' });
    assert.equal(again.comparedSince, first.syncId, 'the newest watermark of another source was taken, or none');

    // A watermark naming a transaction that rolled back (or an id that means nothing) is passed over, not an error.
    const aborted = await target.server.asOwner(target.database, async (c) => {
      await c.query('BEGIN');
      const xid = (await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x;
      await c.query('ROLLBACK');
      return xid;
    });
    await ownerSql(target.server, target.database, `UPDATE archon_sync_history SET metadata = jsonb_set(metadata, '{watermark,target,xid}', to_jsonb($1::text))
       WHERE metadata ? 'watermark' AND sync_id <> $2`, [aborted, first.syncId]);
    await ownerSql(target.server, target.database, `UPDATE archon_sync_history SET metadata = jsonb_set(metadata, '{watermark,target,xid}', '"99999999999999"') WHERE sync_id = $1`, [first.syncId]);
    const untrusted = await run(source, target, { mode: 'incremental' });
    assert.equal(untrusted.comparedSince, undefined, 'a watermark of a transaction that did not commit was used');
    assert.deepEqual(changes(untrusted), {});

    // A column added on both sides without rewriting a row: every row keeps its transaction id, yet differs.
    await ownerSql(source.server, source.database, `ALTER TABLE archon_settings ADD COLUMN note text DEFAULT 'from the source'`);
    await ownerSql(target.server, target.database, `ALTER TABLE archon_settings ADD COLUMN note text DEFAULT 'from the target'`);
    const widened = await run(source, target, { mode: 'incremental' });
    assert.equal(widened.comparedSince, untrusted.syncId, 'the other tables still go by the watermark');
    const settings = widened.tables.find((t) => t.table === 'archon_settings');
    assert.ok(settings && settings.updated === settings.sourceRows && settings.sourceRows > 0, `every settings row was rewritten: ${JSON.stringify(settings)}`);
    await assertEqual(source, target);
    const [note] = await ownerSql(target.server, target.database, `SELECT count(*)::int AS n FROM archon_settings WHERE note = 'from the source'`);
    assert.equal(note?.n, settings.sourceRows);
  });

  test('without the right to read the server identity nothing is skipped, and the run is still exact', async () => {
    const [source, target] = await Promise.all([side(servers.source, 97, 'a'), side(servers.target, 98, 'b')]);
    await target.server.admin(target.database, (c) => c.query('REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC'));
    await run(source, target, { mode: 'full' });
    await editEveryTable(source);
    const second = await run(source, target, { mode: 'incremental' });
    assert.equal(second.comparedSince, undefined);
    await assertEqual(source, target);
    const [recorded] = await ownerSql(target.server, target.database, `SELECT count(*)::int AS n FROM archon_sync_history WHERE metadata ? 'watermark'`);
    assert.equal(recorded?.n, 0, 'a watermark was recorded without the server identity');
  });

  test('after the source restarts (its data directory may have been put back) the next run compares every row, and the one after trusts again', async () => {
    const cluster = servers.source.cluster;
    assert.ok(cluster, 'the harness started the source');
    const [source, target] = await Promise.all([side(servers.source, 101, 'a'), side(servers.target, 102, 'b')]);
    await run(source, target, { mode: 'full' });
    cluster.stop();
    cluster.start();
    await ownerSql(source.server, source.database, `UPDATE archon_sources SET title = 'after the restart' WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
    const afterRestart = await run(source, target, { mode: 'incremental' });
    assert.equal(afterRestart.comparedSince, undefined);
    assert.deepEqual(changes(afterRestart), { archon_sources: [0, 1, 0] });
    const next = await run(source, target, { mode: 'incremental' });
    assert.equal(next.comparedSince, afterRestart.syncId);
    await assertEqual(source, target);
  });

  test('the CLI says which run the comparison went by', async () => {
    const [source, target] = await Promise.all([side(servers.source, 99, 'a'), side(servers.target, 100, 'b')]);
    const env = { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri };
    const first = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const firstId = (JSON.parse(first.stdout.split('\n').find((l) => l.includes('"completed"')) ?? '{}') as { syncId?: string }).syncId;
    assert.match(firstId ?? '', /^sync_\d{8}_\d{6}/);
    await ownerSql(source.server, source.database, `UPDATE archon_settings SET description = 'changed' WHERE key = (SELECT min(key) FROM archon_settings)`);
    const second = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=pretty'], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`\\d+ of 17 tables incremental \\(compare [\\d.]+ s, only rows written since ${firstId ?? 'none'}\\)`));
    const third = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env });
    const completed = JSON.parse(third.stdout.split('\n').find((l) => l.includes('"completed"')) ?? '{}') as { comparedSince?: string | null };
    assert.match(completed.comparedSince ?? '', /^sync_\d{8}_\d{6}/);
  });
});
