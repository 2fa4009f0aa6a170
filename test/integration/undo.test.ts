// Undo: every run keeps the rows it replaces on this machine, and undo() puts the target back exactly as it was before
// that run (every non-generated column of the 17 tables and the outside tables, sequences included), refusing when it
// cannot be sure that is what the caller wants.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CancelledError, ConfigurationError, sync, undo, ValidationError, type SyncOptions, type SyncResult } from '../../src/index.js';
import { historyRows } from '../support/history.js';
import { ALL_TABLES, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { editEveryTable, modes, side, type Side } from '../support/sides.js';
import { TEST_HOME } from '../support/state-home.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

/** Every non-generated column of the 17 tables and the outside ones, and where every sequence stands. */
async function state(s: Side) {
  const [tables, sequences] = await Promise.all([
    fingerprintDatabase(s.server, s.database, ALL_TABLES),
    s.server.admin(s.database, async (c) => (await c.query<{ name: string; last: string | null }>(
      `SELECT relname AS name, pg_sequence_last_value(oid)::text AS last FROM pg_class WHERE relkind = 'S' ORDER BY relname`)).rows),
  ]);
  return { tables, sequences };
}

function backupDir(): string {
  return mkdtempSync(join(TEST_HOME, 'backups-'));
}

function run(source: Side, target: Side, dir: string, extra: Partial<SyncOptions> = {}): Promise<SyncResult> {
  return sync({ ...UNGUARDED, source: source.uri, target: target.uri, history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote' }, backup: { dir }, ...extra });
}

function keptId(result: SyncResult): string {
  assert.ok(result.backup.kept, `the run kept nothing: ${JSON.stringify(result.backup)}`);
  return result.backup.syncId;
}

/**
 * A target the source has not seen: a column only it has (with values other than its default), rows of an outside
 * table pointing at its projects, an edit of its own; and a source with an edit in every table.
 */
async function pairWithTargetOnlyData(seed: number): Promise<{ source: Side; target: Side }> {
  const [source, target] = await Promise.all([side(servers.source, seed, 'a'), side(servers.target, seed, 'b')]);
  await ownerSql(target.server, target.database, `
    ALTER TABLE archon_settings ADD COLUMN note text DEFAULT 'default note';
    UPDATE archon_settings SET note = 'kept: ' || key WHERE key < 'M';
    INSERT INTO archon_sprints (project_id, name) SELECT id, 'sprint of ' || title FROM archon_projects;
    UPDATE archon_sources SET title = 'edited on the target' WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
  await editEveryTable(source);
  return { source, target };
}

describe('undo', () => {
  test('full, auto and incremental runs are each put back exactly: a target-only column, outside rows and sequences included', async () => {
    const { source, target } = await pairWithTargetOnlyData(61);
    // More than a third of the settings differ: auto copies that table in full and the others incrementally.
    await ownerSql(source.server, source.database, `UPDATE archon_settings SET description = coalesce(description, '') || ' (source)'`);
    const dir = backupDir();
    const before = await state(target);
    const [noted] = await ownerSql(target.server, target.database, `SELECT count(*)::int AS n FROM archon_settings WHERE note LIKE 'kept: %'`);
    assert.ok(Number(noted?.n) > 0, 'the target-only column holds values of its own');

    for (const mode of ['full', 'auto', 'incremental'] as const) {
      const result = await run(source, target, dir, { mode });
      if (mode === 'auto') assert.deepEqual(new Set(Object.values(modes(result))), new Set(['full', 'incremental']), JSON.stringify(modes(result)));
      else assert.ok(Object.values(modes(result)).every((m) => m === mode), JSON.stringify(modes(result)));
      assert.notDeepEqual((await state(target)).tables, before.tables, `the ${mode} run changed nothing`);
      const undone = await undo({ target: target.uri, syncId: keptId(result), backupDir: dir });
      assert.equal(undone.undid, result.backup.kept ? result.backup.syncId : '');
      assert.deepEqual(await state(target), before, `after undoing the ${mode} run`);
    }
    const history = await historyRows(target.server, target.database);
    const undos = history.filter((row) => (row.metadata as { undo_of?: string }).undo_of);
    assert.equal(undos.length, 3, 'each undo records a history row of its own');
    assert.ok(undos.every((row) => row.status === 'completed'));
    const undoneRuns = history.filter((row) => (row.metadata as { undone_by?: string }).undone_by);
    assert.equal(undoneRuns.length, 3, 'each undone run says which undo put it back');
  });

  test('refuses when the target changed since the run, naming the rows and any later run; force puts it back anyway', async () => {
    const [source, target] = await Promise.all([side(servers.source, 62, 'a'), side(servers.target, 63, 'b')]);
    const dir = backupDir();
    const before = await state(target);
    const first = keptId(await run(source, target, dir, { mode: 'full' }));

    await ownerSql(target.server, target.database, `UPDATE archon_settings SET description = 'edited after the run' WHERE key = (SELECT min(key) FROM archon_settings)`);
    const edited = await state(target);
    await assert.rejects(undo({ target: target.uri, syncId: first, backupDir: dir }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, new RegExp(`the target changed since ${first}: 1 row of archon_settings written since`));
      assert.match(error.message, /force: true/);
      return true;
    });
    assert.deepEqual(await state(target), edited, 'a refused undo changed the target');

    // A later run heals the edit; it is a change all the same, and named.
    const second = keptId(await run(source, target, dir, { mode: 'incremental' }));
    await assert.rejects(undo({ target: target.uri, syncId: first, backupDir: dir }),
      new RegExp(`${second} \\(a later archon-sync run\\) committed after it`));
    const forced = await undo({ target: target.uri, syncId: first, backupDir: dir, force: true });
    assert.ok(forced.overridden.some((change) => change.includes(second)), JSON.stringify(forced.overridden));
    assert.deepEqual(await state(target), before);
    await assert.rejects(undo({ target: target.uri, syncId: first, backupDir: dir }), /already undone/);
  });

  test('a run that changes nothing keeps no backup, prunes none, and stands in no undo\'s way', async () => {
    const [source, target] = await Promise.all([side(servers.source, 67, 'a'), side(servers.target, 68, 'b')]);
    const dir = backupDir();
    const before = await state(target);
    const first = keptId(await run(source, target, dir, { mode: 'full' }));
    const synced = await state(target);
    for (const mode of ['incremental', 'auto'] as const) {
      const idle = await run(source, target, dir, { mode, backup: { dir, keep: 1 } });
      assert.ok(!idle.backup.kept && idle.backup.nothingToUndo === true, JSON.stringify(idle.backup));
      assert.ok(Object.values(modes(idle)).every((m) => m === 'incremental'), JSON.stringify(modes(idle)));
    }
    assert.deepEqual(await state(target), synced, 'the runs changed nothing');
    assert.deepEqual(readdirSync(join(dir, readdirSync(dir)[0] ?? '')), [first], 'only the run that changed rows has a backup, kept although keep is 1');
    const history = await historyRows(target.server, target.database);
    assert.equal(history.filter((row) => (row.metadata as { changed_nothing?: boolean }).changed_nothing === true).length, 2);
    // No force needed: the later runs wrote no row.
    const undone = await undo({ target: target.uri, syncId: first, backupDir: dir });
    assert.equal(undone.undid, first);
    assert.deepEqual(undone.overridden, []);
    assert.deepEqual(await state(target), before);
  });

  test('refuses a backup of another database, and a run that did not commit, which leaves no backup behind', async () => {
    const [source, target] = await Promise.all([side(servers.source, 64, 'a'), side(servers.target, 65, 'b')]);
    const dir = backupDir();
    const committed = keptId(await run(source, target, dir, { mode: 'full' }));
    const other = await side(servers.target, 66, 'c');
    const otherBefore = await state(other);
    await assert.rejects(undo({ target: other.uri, syncId: committed, backupDir: dir, force: true }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, new RegExp(`the backup of ${committed} was kept for another database \\(.*/${target.database}`));
      return true;
    });
    assert.deepEqual(await state(other), otherBefore);

    // Cancelled after its old rows were kept and before COMMIT: they are removed with the rollback.
    const targetBefore = await state(target);
    const controller = new AbortController();
    const cancelled = run(source, target, dir, {
      mode: 'full', signal: controller.signal,
      onEvent: (event) => { if (event.type === 'phase' && event.phase === 'verification') controller.abort(); },
    });
    await assert.rejects(cancelled, CancelledError);
    assert.deepEqual(await state(target), targetBefore);
    const failed = (await historyRows(target.server, target.database)).find((row) => row.status === 'cancelled');
    assert.ok(failed, 'the cancelled run has a history row');
    const runs = readdirSync(join(dir, readdirSync(dir)[0] ?? ''));
    assert.deepEqual(runs, [committed], 'a run that rolled back left a backup');
    await assert.rejects(undo({ target: target.uri, syncId: String(failed.sync_id), backupDir: dir }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, new RegExp(`${String(failed.sync_id)} did not commit \\(cancelled`));
      return true;
    });
    await assert.rejects(undo({ target: target.uri, syncId: 'sync_19990101_000000', backupDir: dir }), ConfigurationError);
    assert.ok(existsSync(join(dir, readdirSync(dir)[0] ?? '', committed, 'manifest.json')));
  });
});
