// The preview and the sync decide every table's load in the same steps: run both on the same databases over every
// mode, target state and trigger mode, and the preview's modes and counts are exactly what the sync then did.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ARCHON_TABLES, plan, sync, type HistoryOptions, type SyncEvent, type SyncMode, type TablePreview } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { filledDatabase, ownerSql } from '../support/fixtures.js';
import { historyRows } from '../support/history.js';
import { OWNER_ROLE } from '../support/cluster.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import { editEveryTable, side, type Side } from '../support/sides.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

const HISTORY: HistoryOptions = { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote', triggeredBy: 'preview test' };

/** A copy of `template` to run on, so every combination starts from the same target. */
async function cloneOf(server: TestServer, template: string, name: string): Promise<Side> {
  const database = `${name}_${process.pid}`;
  // The run that filled the template may still be letting go of a connection for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      await server.admin('postgres', (client) => client.query(`CREATE DATABASE "${database}" TEMPLATE "${template}" OWNER ${OWNER_ROLE}`));
      break;
    } catch (error) {
      if (attempt >= 50 || (error as { code?: string }).code !== '55006') throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { server, database, uri: server.ownerUri(database) };
}

function counts(p: TablePreview | undefined) {
  return p && { mode: p.mode, inserts: p.inserts, updates: p.updates, deletes: p.deletes };
}

describe('the preview is what the sync does', () => {
  test('over modes full, incremental and auto × an empty, a partly changed and a diverged target × both trigger modes, table by table', async () => {
    const source = await side(servers.source, 101, 'pvsrc');
    const empty = await filledDatabase(servers.target, undefined, undefined, 'pvempty');
    const diverged = await filledDatabase(servers.target, 102, undefined, 'pvdiv');
    // Partly changed: a copy of the source that then saw an insert, an update and a delete in every table, and
    // saw every row of one small table rewritten (more than fullCopyShare changed: auto copies that one in full).
    const partly = await filledDatabase(servers.target, undefined, undefined, 'pvpart');
    const partlyUri = servers.target.ownerUri(partly);
    await sync({ ...UNGUARDED, source: source.uri, target: partlyUri, mode: 'full' });
    await editEveryTable({ server: servers.target, database: partly, uri: partlyUri });
    await ownerSql(servers.target, partly, 'UPDATE archon_llm_pricing SET input_price_per_1k = input_price_per_1k + 1');

    const templates = { empty, 'partly changed': partly, diverged };
    let n = 0;
    for (const [state, template] of Object.entries(templates)) {
      for (const triggerSuppression of ['auto', 'disable-triggers'] as const) {
        for (const mode of ['full', 'incremental', 'auto'] as SyncMode[]) {
          const label = `${state}, ${mode}, ${triggerSuppression}`;
          const target = await cloneOf(servers.target, template, `pv${++n}`);
          const runs = await historyRows(servers.target, target.database);
          const options = { source: source.uri, target: target.uri, triggerSuppression, history: HISTORY };
          const previewed = await plan({ ...UNGUARDED, ...options, preview: mode });
          assert.ok(previewed.preview, `${label}: no preview`);
          assert.equal((await historyRows(servers.target, target.database)).length, runs.length, `${label}: the preview wrote a history row`);
          if (triggerSuppression === 'auto') {
            // The deletion guard decides from the same counts: with the default share, the preview shows the refusal
            // the sync makes (a declined confirmation ends the others before any write).
            const guarded = await plan({ ...options, preview: mode });
            const refusal = await sync({ ...options, mode: mode, confirm: () => false }).then(() => undefined, (e: unknown) => e);
            if ((guarded.preview?.guard.refused.length ?? 0) > 0) {
              assert.deepEqual((refusal as { details?: { refused?: unknown } }).details?.refused, guarded.preview?.guard.refused, `${label}: guard`);
            } else {
              assert.equal((refusal as { failure?: string }).failure !== 'delete-guard', true, `${label}: refused without the preview saying so`);
            }
          }
          const result = await sync({ ...UNGUARDED, ...options, mode });
          assert.equal(previewed.preview.triggerSuppression, result.triggerSuppression, label);
          assert.equal(previewed.preview.comparedSince, result.comparedSince, label);
          assert.deepEqual(previewed.preview.comparedInFull, result.comparedInFull, label);
          assert.deepEqual(previewed.preview.tables.map((t) => t.table), result.tables.map((t) => t.table), label);
          // What the target itself wrote since the last run, as the preview counted it, is what the sync overwrote.
          assert.deepEqual(result.targetEdits, previewed.preview.targetEdits, `${label}: target edits`);
          for (const done of result.tables) {
            const said: TablePreview | undefined = previewed.preview.tables.find((t) => t.table === done.table);
            assert.deepEqual(counts(said), { mode: done.mode, inserts: done.inserted, updates: done.updated, deletes: done.deleted }, `${label}: ${done.table}`);
          }
          // The combinations are what they claim to be.
          if (mode === 'full' || triggerSuppression === 'disable-triggers' || state === 'empty') {
            assert.ok(result.tables.every((t) => t.mode === 'full'), `${label}: ${JSON.stringify(result.tables.map((t) => t.mode))}`);
          }
          if (state === 'partly changed' && triggerSuppression === 'auto' && mode === 'incremental') {
            assert.equal(result.tables.filter((t) => t.mode === 'incremental').length, ARCHON_TABLES.length, label);
          }
          if (state === 'partly changed' && triggerSuppression === 'auto' && mode === 'auto') {
            // Small tables where an edit or two (and their cascades) exceed fullCopyShare are copied in full; the others are not.
            assert.equal(result.tables.find((t) => t.table === 'archon_llm_pricing')?.mode, 'full', label);
            assert.ok(result.tables.some((t) => t.mode === 'incremental'), `${label}: ${JSON.stringify(result.tables.map((t) => [t.table, t.mode]))}`);
          }
          await servers.target.dropDatabase(target.database);
        }
      }
    }
  });
});

describe('what the plan says before a run', () => {
  test('"references … (not copied)" warnings appear only when such rows exist', async () => {
    const [source, target] = await Promise.all([side(servers.source, 103, 'refsrc'), side(servers.target, 103, 'refdst')]);
    const notCopied = (warnings: string[]) => warnings.filter((w) => w.includes('(not copied) references'));
    // The generator leaves the outside tables empty: nothing references ours yet.
    assert.deepEqual(notCopied((await plan({ ...UNGUARDED, source: source.uri, target: target.uri })).warnings), []);
    await ownerSql(target.server, target.database, `INSERT INTO archon_sprints (project_id, name) SELECT id, 'sprint' FROM archon_projects LIMIT 1`);
    const warned = notCopied((await plan({ ...UNGUARDED, source: source.uri, target: target.uri })).warnings);
    assert.ok(warned.length >= 1 && warned.every((w) => w.startsWith('public.archon_sprints (not copied) references archon_projects')), JSON.stringify(warned));
  });

  test('in an incremental run the step counts the rows to copy, and the plan\'s indexes to rebuild are the ones the run rebuilds', async () => {
    const source = await side(servers.source, 104, 'barsrc');
    const empty = await filledDatabase(servers.target, undefined, undefined, 'bardst');
    const target: Side = { server: servers.target, database: empty, uri: servers.target.ownerUri(empty) };
    await sync({ ...UNGUARDED, source: source.uri, target: target.uri, mode: 'full' });
    await ownerSql(source.server, source.database, `
      UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id % 7 = 0;
      DELETE FROM archon_llm_pricing`);
    const env = { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri };
    const dry = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const promised = Number(/(\d+) indexes to rebuild/.exec(dry.stdout)?.[1]);
    const events: SyncEvent[] = [];
    const result = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, onEvent: (e) => events.push(e) });
    const crawled = result.tables.find((t) => t.table === 'archon_crawled_pages');
    assert.equal(crawled?.mode, 'incremental');
    const starts = events.filter((e): e is Extract<SyncEvent, { type: 'table-start' }> => e.type === 'table-start' && e.phase === 'copy');
    const crawledStart = starts.find((e) => e.table === 'archon_crawled_pages');
    assert.equal(crawledStart?.tableTotal, (crawled?.inserted ?? 0) + (crawled?.updated ?? 0), 'the step bar counts the rows to copy');
    assert.ok((crawledStart?.tableTotal ?? 0) < (crawled?.sourceRows ?? 0));
    const rebuilt = events.filter((e) => e.type === 'index').length;
    assert.equal(promised, rebuilt, `the plan promised ${promised} index rebuilds, the run did ${rebuilt}`);
    assert.equal(result.plan.preview?.totals.indexesToRebuild, rebuilt);
    assert.ok(rebuilt < result.plan.tables.reduce((sum, t) => sum + t.indexes.length, 0), 'incremental tables rebuild none');
  });
});
