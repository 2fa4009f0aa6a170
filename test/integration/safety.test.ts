// Issue 25 on real clusters, through the library: the deletion guard refuses the disasters (an emptied source,
// the wrong direction) before any write and a dry run shows the same refusal; the target's own edits since the
// last run, even one written just before the run locks, are counted, named, refused without anyone to ask, and
// overwritten only when told; a first copy into an empty target is never refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isArchonSyncError, plan, sync, ValidationError, type HistoryOptions } from '../../src/index.js';
import { fingerprintDatabase, filledDatabase, ownerSql } from '../support/fixtures.js';
import { historyRows } from '../support/history.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, side, type Side } from '../support/sides.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

const HISTORY: HistoryOptions = { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote', triggeredBy: 'safety test' };

async function emptyTarget(prefix: string): Promise<Side> {
  const database = await filledDatabase(servers.target, undefined, undefined, prefix);
  return { server: servers.target, database, uri: servers.target.ownerUri(database) };
}

async function rejection(run: Promise<unknown>): Promise<ValidationError> {
  const error = await run.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ValidationError, `expected a refusal, got ${String(error)}`);
  return error;
}

async function count(s: Side, table: string): Promise<number> {
  return Number((await ownerSql(s.server, s.database, `SELECT count(*)::int AS n FROM ${table}`))[0]?.n);
}

describe('the deletion guard', () => {
  test('a first copy into an empty target is never refused, and an emptied source is refused in every mode before any write, as the dry run says', async () => {
    const source = await side(servers.source, 251, 'sgsrc');
    const target = await emptyTarget('sgtgt');
    const first = await sync({ source: source.uri, target: target.uri, history: HISTORY });
    assert.ok(first.plan.preview.guard.refused.length === 0);
    // Empty tables still have pages (pg_table_size), but no old rows to keep.
    assert.equal(first.plan.preview.backup?.bytes, 0, JSON.stringify(first.plan.preview.backup));
    await assertEqual(source, target);

    // Archon's "lost all my crawl data" case: the source's knowledge base is wiped.
    const pages = await count(target, 'archon_crawled_pages');
    const examples = await count(target, 'archon_code_examples');
    assert.ok(pages > 0 && examples > 0);
    await ownerSql(source.server, source.database, 'DELETE FROM archon_code_examples; DELETE FROM archon_crawled_pages');
    const before = await fingerprintDatabase(target.server, target.database);
    const rows = (await historyRows(target.server, target.database)).length;
    for (const mode of ['auto', 'incremental', 'full'] as const) {
      const previewed = await plan({ source: source.uri, target: target.uri, history: HISTORY, preview: mode });
      const refused = await rejection(sync({ source: source.uri, target: target.uri, history: HISTORY, mode, confirm: () => true }));
      assert.equal(refused.failure, 'delete-guard', mode);
      assert.deepEqual(refused.details?.refused, previewed.preview?.guard.refused, `${mode}: the preview shows the refusal the sync makes`);
      assert.deepEqual(previewed.preview?.guard.refused.map((t) => [t.table, t.deletes, t.targetRows]).sort(),
        [['archon_code_examples', examples, examples], ['archon_crawled_pages', pages, pages]], mode);
      assert.ok(!refused.message.includes('\n'), 'one line');
      assert.match(refused.message, new RegExp(`delete ${pages.toLocaleString('en-US')} of ${pages.toLocaleString('en-US')} rows of archon_crawled_pages`), mode);
      assert.match(refused.message, /archon_code_examples/);
      assert.match(refused.message, /raise maxDeleteShare to allow it/);
      assert.deepEqual(await fingerprintDatabase(target.server, target.database), before, `${mode}: the target is unchanged`);
    }
    const history = await historyRows(target.server, target.database);
    assert.equal(history.length, rows + 3, 'each refused run leaves its history row');
    assert.ok(history.slice(-3).every((r) => r.status === 'failed'), JSON.stringify(history.slice(-3).map((r) => r.status)));

    // Allowed on purpose: maxDeleteShare 1 lets it through.
    await sync({ source: source.uri, target: target.uri, history: HISTORY, maxDeleteShare: 1 });
    await assertEqual(source, target);
  });

  test('the wrong direction (a nearly empty copy synced over a full one) is refused, and a full copy counts its net loss', async () => {
    const full = await side(servers.target, 252, 'sgfull');
    const nearlyEmpty = await side(servers.source, 253, 'sgnear');
    await ownerSql(nearlyEmpty.server, nearlyEmpty.database, `DELETE FROM archon_code_examples WHERE ctid NOT IN (SELECT ctid FROM archon_code_examples LIMIT 1);
      DELETE FROM archon_crawled_pages WHERE ctid NOT IN (SELECT ctid FROM archon_crawled_pages LIMIT 2)`);
    const before = await fingerprintDatabase(full.server, full.database);
    const previewed = await plan({ source: nearlyEmpty.uri, target: full.uri, preview: 'full' });
    const pages = previewed.preview?.tables.find((t) => t.table === 'archon_crawled_pages');
    assert.ok(pages && pages.mode === 'full');
    assert.equal(pages.guardDeletes, pages.targetRows - 2, 'a full copy without comparing counts target − source');
    const refused = await rejection(sync({ source: nearlyEmpty.uri, target: full.uri, mode: 'full' }));
    assert.equal(refused.failure, 'delete-guard');
    assert.deepEqual(refused.details?.refused, previewed.preview?.guard.refused);
    assert.deepEqual(await fingerprintDatabase(full.server, full.database), before);
  });
});

describe("the target's own edits", () => {
  test('a row written into the target just before an incremental run locks is caught, named, refused without anyone to ask, and overwritten when told', async () => {
    const source = await side(servers.source, 254, 'tesrc');
    const target = await emptyTarget('tetgt');
    await sync({ source: source.uri, target: target.uri, history: HISTORY });
    // The run's own writes are not the target's edits.
    const quiet = await plan({ source: source.uri, target: target.uri, history: HISTORY, preview: 'incremental' });
    assert.deepEqual([quiet.preview?.targetEdits.inserted, quiet.preview?.targetEdits.updated, quiet.preview?.targetEdits.deleted], [0, 0, 0]);
    assert.deepEqual(quiet.preview?.targetEdits.untold, []);

    const [victim] = await ownerSql(target.server, target.database, 'SELECT id::text AS id FROM archon_settings ORDER BY id LIMIT 1');
    const [gone] = await ownerSql(target.server, target.database, 'SELECT id::text AS id FROM archon_settings ORDER BY id DESC LIMIT 1');
    await ownerSql(target.server, target.database, `UPDATE archon_settings SET value = 'edited on the target' WHERE id = $1`, [victim?.id]);
    await ownerSql(target.server, target.database, 'DELETE FROM archon_settings WHERE id = $1', [gone?.id]);
    const previewed = await plan({ source: source.uri, target: target.uri, history: HISTORY, preview: 'incremental' });
    // Written a moment before the run takes its locks: the case.
    const [added] = await ownerSql(target.server, target.database,
      `INSERT INTO archon_settings (key, value) VALUES ('written-just-before-the-run', 'mine') RETURNING id::text AS id`);
    const before = await fingerprintDatabase(target.server, target.database);
    const refused = await rejection(sync({ source: source.uri, target: target.uri, history: HISTORY, mode: 'incremental' }));
    assert.equal(refused.failure, 'target-edits');
    assert.match(refused.message, new RegExp(`id=${String(added?.id)}`));
    assert.match(refused.message, /archon_settings: 1 inserted, 1 updated, 1 deleted/);
    assert.match(refused.message, /targetChanges: 'overwrite'/);
    assert.deepEqual(await fingerprintDatabase(target.server, target.database), before, 'the target is unchanged');
    assert.equal(previewed.preview?.targetEdits.policy, 'refuse');
    assert.deepEqual(previewed.preview?.targetEdits.tables.map((t) => [t.table, t.inserted, t.updated, t.deleted]), [['archon_settings', 0, 1, 1]]);

    // Asked: the confirmation sees them; declining changes nothing.
    let shown: unknown;
    const declined = await sync({ source: source.uri, target: target.uri, history: HISTORY, mode: 'incremental', confirm: (p) => { shown = p.preview.targetEdits; return false; } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(isArchonSyncError(declined) && declined.failure === 'not-confirmed');
    assert.deepEqual((shown as { tables: { keys: string[] }[] }).tables[0]?.keys.length, 3);

    const result = await sync({ source: source.uri, target: target.uri, history: HISTORY, mode: 'incremental', targetChanges: 'overwrite' });
    assert.deepEqual([result.targetEdits.inserted, result.targetEdits.updated, result.targetEdits.deleted], [1, 1, 1]);
    await assertEqual(source, target);
    const row = (await historyRows(target.server, target.database)).at(-1);
    const recorded = (row?.metadata as { target_edits?: { inserted: number } } | undefined)?.target_edits;
    assert.equal(recorded?.inserted, 1, 'the history row counts them');
  });

  test('where no watermark is trusted the edits cannot be told apart: the run says so and goes on under the guard', async () => {
    const source = await side(servers.source, 255, 'tusrc');
    const target = await emptyTarget('tutgt');
    await sync({ source: source.uri, target: target.uri });
    await ownerSql(target.server, target.database, `UPDATE archon_settings SET value = 'edited' WHERE id = (SELECT min(id::text)::uuid FROM archon_settings)`);
    const warnings: string[] = [];
    const result = await sync({ source: source.uri, target: target.uri, mode: 'incremental', onEvent: (e) => { if (e.type === 'warning') warnings.push(e.message); } });
    assert.ok(result.targetEdits.untold.includes('archon_settings'));
    assert.ok(warnings.some((w) => w.includes("the target's own edits since the last sync cannot be told apart")), warnings.join('\n'));
    await assertEqual(source, target);
  });
});
