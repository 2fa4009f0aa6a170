// Watermarks and definitions: a value that changed without its row being written (a column added again with a
// default, a table swapped in by RENAME, a database created again from another template) is always compared,
// and the run says which table was compared in full and why.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { plan, sync, type SyncOptions, type SyncResult } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { ownerSql } from '../support/fixtures.js';
import { historyRows } from '../support/history.js';
import { OWNER_ROLE } from '../support/cluster.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, editEveryTable, side, type Side } from '../support/sides.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

function run(source: Side, target: Side, extra: Partial<SyncOptions> = {}): Promise<SyncResult> {
  return sync({ ...UNGUARDED, source: source.uri, target: target.uri, history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote' }, ...extra });
}

const definitionChanged = (where: 'source' | 'target', since: string | undefined) =>
  `its columns, their defaults or their types changed on the ${where} since ${since ?? '?'}`;

/** `column` (text) of `table` dropped and added again with a constant default: every row's value changes, no row is written. */
async function addedAgain(at: Side, table: string, column: string, value: string): Promise<void> {
  await ownerSql(at.server, at.database, `ALTER TABLE ${table} DROP COLUMN ${column}; ALTER TABLE ${table} ADD COLUMN ${column} text DEFAULT '${value}'`);
}

/** Two filled databases and a committed full sync between them, whose watermark the next run may go by. */
async function syncedPair(seed: number): Promise<{ source: Side; target: Side; first: SyncResult }> {
  const [source, target] = await Promise.all([side(servers.source, seed, 'a'), side(servers.target, seed + 1, 'b')]);
  const first = await run(source, target, { mode: 'full' });
  return { source, target, first };
}

describe('watermarks and what defines a table', () => {
  test('a column dropped and added again with a constant default on the source: that table is compared in full, the others go by the watermark', async () => {
    const { source, target, first } = await syncedPair(201);
    // Every row's description is now the default, held in pg_attribute; no row was written.
    await addedAgain(source, 'archon_settings', 'description', 'added again on the source');
    const second = await run(source, target);
    await assertEqual(source, target);
    assert.deepEqual(second.comparedInFull, { archon_settings: definitionChanged('source', first.syncId) });
    assert.equal(second.comparedSince, first.syncId, 'the other tables still go by the watermark');
    const third = await run(source, target);
    assert.deepEqual([third.comparedSince, third.comparedInFull], [second.syncId, {}], 'the run after trusts again');
  });

  test('a column dropped and added again as the target\'s last column (same order, same signature): compared in full', async () => {
    const { source, target, first } = await syncedPair(203);
    await addedAgain(target, 'archon_project_sources', 'notes', 'added again on the target');
    const second = await run(source, target, { mode: 'incremental' });
    await assertEqual(source, target);
    assert.deepEqual(second.comparedInFull, { archon_project_sources: definitionChanged('target', first.syncId) });
    assert.equal(second.comparedSince, first.syncId);
  });

  test('a table put in place by RENAME on the source, filled before the last sync: compared in full', async () => {
    const [source, target] = await Promise.all([side(servers.source, 205, 'a'), side(servers.target, 206, 'b')]);
    // Its rows are older than the watermark, and so are its catalog rows until the RENAME.
    await ownerSql(source.server, source.database, `CREATE TABLE archon_prompts_next (LIKE archon_prompts INCLUDING ALL);
      INSERT INTO archon_prompts_next SELECT * FROM archon_prompts;
      UPDATE archon_prompts_next SET prompt = prompt || ' (the next version)'`);
    const first = await run(source, target, { mode: 'full' });
    await ownerSql(source.server, source.database, `ALTER TABLE archon_prompts RENAME TO archon_prompts_previous;
      ALTER TABLE archon_prompts_next RENAME TO archon_prompts`);
    const second = await run(source, target, { mode: 'incremental' });
    await assertEqual(source, target);
    assert.deepEqual(second.comparedInFull, { archon_prompts: `the table was replaced on the source since ${first.syncId ?? '?'}` });
    assert.equal(second.comparedSince, first.syncId);
  });

  test('a backup put back by RENAME on the target, filled before the last sync: compared in full', async () => {
    const { source, target } = await syncedPair(207);
    // The source's keys with other values, written before the run whose watermark the next run goes by.
    await ownerSql(target.server, target.database, `CREATE TABLE archon_settings_backup (LIKE archon_settings INCLUDING ALL);
      INSERT INTO archon_settings_backup SELECT * FROM archon_settings;
      UPDATE archon_settings_backup SET value = 'from the backup'`);
    const second = await run(source, target, { mode: 'incremental' });
    await ownerSql(target.server, target.database, `ALTER TABLE archon_settings RENAME TO archon_settings_synced;
      ALTER TABLE archon_settings_backup RENAME TO archon_settings`);
    const third = await run(source, target);
    await assertEqual(source, target);
    assert.deepEqual(third.comparedInFull, { archon_settings: `the table was replaced on the target since ${second.syncId ?? '?'}` });
    assert.equal(third.comparedSince, second.syncId);
  });

  test('a source database dropped and created again under its name and oid from a template whose rows differ: every table compared in full', async () => {
    const [source, target] = await Promise.all([side(servers.source, 209, 'a'), side(servers.target, 210, 'b')]);
    const template = `${source.database}_template`;
    await source.server.admin('postgres', (c) => c.query(`CREATE DATABASE "${template}" TEMPLATE "${source.database}" OWNER ${OWNER_ROLE}`));
    // Written before the sync below: by their xmin, these rows are older than its watermark.
    await ownerSql(source.server, template, `UPDATE archon_settings SET value = 'from the template';
      UPDATE archon_crawled_pages SET content = content || ' (template)' WHERE id % 2 = 0;
      DELETE FROM archon_task_history WHERE id IN (SELECT id FROM archon_task_history ORDER BY id LIMIT 3)`);
    const first = await run(source, target, { mode: 'full' });
    const [row] = await ownerSql(source.server, 'postgres', 'SELECT oid::text AS oid FROM pg_database WHERE datname = $1', [source.database]);
    await source.server.admin('postgres', async (c) => {
      await c.query(`DROP DATABASE "${source.database}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${source.database}" OID ${String(row?.oid)} TEMPLATE "${template}" OWNER ${OWNER_ROLE}`);
    });
    const second = await run(source, target, { mode: 'incremental' });
    await assertEqual(source, target);
    const reason = `the source database was re-created or altered since ${first.syncId ?? '?'}`;
    assert.equal(second.comparedSince, undefined);
    assert.equal(Object.keys(second.comparedInFull).length, 17, JSON.stringify(second.comparedInFull));
    assert.ok(Object.values(second.comparedInFull).every((r) => r === reason), JSON.stringify(second.comparedInFull));
    const third = await run(source, target, { mode: 'incremental' });
    assert.deepEqual([third.comparedSince, third.comparedInFull], [second.syncId, {}]);
  });

  test('a target put back from a copy of itself under its oid keeps the watermark that copy holds, and the run still ends equal', async () => {
    const { source, target, first } = await syncedPair(213);
    const copy = `${target.database}_copy`;
    await target.server.admin('postgres', (c) => c.query(`CREATE DATABASE "${copy}" TEMPLATE "${target.database}" OWNER ${OWNER_ROLE}`));
    await editEveryTable(source);
    const second = await run(source, target);
    assert.equal(second.comparedSince, first.syncId);
    // Put back as it was after the first run: its history holds that run's watermark, and its rows are what that run left.
    const [row] = await ownerSql(target.server, 'postgres', 'SELECT oid::text AS oid FROM pg_database WHERE datname = $1', [target.database]);
    await target.server.admin('postgres', async (c) => {
      await c.query(`DROP DATABASE "${target.database}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${target.database}" OID ${String(row?.oid)} TEMPLATE "${copy}" OWNER ${OWNER_ROLE}`);
    });
    const third = await run(source, target, { mode: 'incremental' });
    assert.deepEqual([third.comparedSince, third.comparedInFull], [first.syncId, {}]);
    await assertEqual(source, target);
  });

  test('a preview (plan({ preview }), the CLI\'s dry run) says which table the sync will compare in full and why, as the sync then does', async () => {
    const { source, target, first } = await syncedPair(213);
    const env = { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri };
    await addedAgain(source, 'archon_settings', 'description', 'added again on the source');
    const expected = { archon_settings: definitionChanged('source', first.syncId) };
    const previewed = await plan({ ...UNGUARDED, source: source.uri, target: target.uri, history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote' }, preview: 'auto' });
    assert.deepEqual([previewed.preview?.comparedSince, previewed.preview?.comparedInFull], [first.syncId, expected]);
    const dry = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(dry.stdout.includes(`archon_settings compared in full: ${expected.archon_settings}`), dry.stdout);
    const dryJson = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=json'], { env });
    assert.equal(dryJson.code, 0, dryJson.stderr);
    const planned = JSON.parse(dryJson.stdout.split('\n').find((l) => l.includes('"plan"')) ?? '{}') as { preview?: { comparedInFull?: unknown } };
    assert.deepEqual(planned.preview?.comparedInFull, expected);
    const second = await run(source, target);
    assert.deepEqual([second.comparedSince, second.comparedInFull, second.plan.preview.comparedInFull], [first.syncId, expected, expected]);
    await assertEqual(source, target);
  });

  test('the CLI\'s summary and JSON log, and the history row, say which table was compared in full and why', async () => {
    const { source, target, first } = await syncedPair(211);
    const env = { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri };
    await addedAgain(source, 'archon_prompts', 'description', 'added again');
    const pretty = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=pretty'], { env });
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.ok(pretty.stdout.includes(`archon_prompts compared in full: ${definitionChanged('source', first.syncId)}`), pretty.stdout);
    const [recorded] = (await historyRows(target.server, target.database)).slice(-1);
    assert.deepEqual((recorded?.metadata as { compared_in_full?: unknown }).compared_in_full, { archon_prompts: definitionChanged('source', first.syncId) });
    await assertEqual(source, target);

    await addedAgain(source, 'archon_prompts', 'description', 'added once more');
    const json = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const completed = JSON.parse(json.stdout.split('\n').find((l) => l.includes('"completed"')) ?? '{}') as { comparedInFull?: Record<string, string> };
    assert.match(completed.comparedInFull?.archon_prompts ?? '', /^its columns, their defaults or their types changed on the source since sync_\d{8}_\d{6}/);
    await assertEqual(source, target);
  });
});
