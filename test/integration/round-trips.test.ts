// Round trips per sync are bounded by the tables, not by their indexes, constraints or sequences: over a link with
// tens of milliseconds each way, every statement a run waits for costs two of them.
//
// Counted from each server's log (log_statement = all; see test/support/statement-log.ts for what one line
// means), for the sync's own connections: every client but the harness's (no application_name) and the sidecars,
// which carry the probe and live progress beside the sync. The history row's start, commit facts and outcome go on
// the sync's own target connection and are counted with it. Nothing here is timed.

import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ARCHON_TABLES, sync, type SyncOptions } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { historyRows } from '../support/history.js';
import { filledDatabase, ownerSql } from '../support/fixtures.js';
import { runCliInPty } from '../support/pty.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import {
  describeTraffic, STATEMENT_LOG_SETTINGS, StatementLogMark, trafficOf, type ApplicationTraffic,
} from '../support/statement-log.js';
import { UNGUARDED } from '../support/unguarded.js';

/** From the issue: what one sync of the 17 tables may send, whatever the number of indexes. */
const TARGET_LIMIT = 80;
const SOURCE_LIMIT = 30;
/** Ten more indexes, three more foreign keys and four more sequences may cost a statement or two of setup, never one each. */
const GROWTH_ALLOWED = 2;

const SIDECAR_APPLICATION = 'archon-sync-sidecar';
/**
 * Connections that poll beside the sync on a clock (a probe every few seconds, index progress twice a second, live
 * progress): none of their statements is waited for by the sync, and their number follows the run's length.
 */
const BESIDE_THE_SYNC = new Set([SIDECAR_APPLICATION]);
/** archon-sync's connections in the sync's path; a new one is counted whatever its name. */
const isSyncConnection = (application: string) => application !== '' && !BESIDE_THE_SYNC.has(application);

interface Measured {
  target: ApplicationTraffic;
  source: ApplicationTraffic;
  sidecar: ApplicationTraffic;
}

let servers: TestServers;

function clusterOf(server: TestServer) {
  if (!server.cluster) throw new Error('counting statements needs the harness\'s own clusters (their server log); run without ARCHON_SYNC_TEST_SOURCE_URL/_TARGET_URL');
  return server.cluster;
}

before(async () => {
  servers = await testServers({ source: { settings: { ...STATEMENT_LOG_SETTINGS } }, target: { settings: { ...STATEMENT_LOG_SETTINGS } } });
});
after(async () => { await servers?.close(); });

async function pair() {
  const [source, target] = await Promise.all([
    filledDatabase(servers.source, 71, undefined, 'src'),
    filledDatabase(servers.target, 72, undefined, 'dst'),
  ]);
  return { source, target, options: { source: servers.source.ownerUri(source), target: servers.target.ownerUri(target) } };
}

/** One sync, and what its connections sent each server. */
async function measure(t: TestContext, label: string, options: SyncOptions): Promise<Measured> {
  // A full copy unless the caller names a mode: the bound is about the steps of a copy of every table.
  return measureRun(t, label, () => sync({ ...UNGUARDED, mode: 'full', ...options }), options.mode === undefined || options.mode === 'full');
}

/** What any run (the library's, the CLI's) sent each server; `full`: every table is copied, so every table's COPY shows. */
async function measureRun(t: TestContext, label: string, run: () => Promise<unknown>, full = true): Promise<Measured> {
  const sourceMark = StatementLogMark.now(clusterOf(servers.source));
  const targetMark = StatementLogMark.now(clusterOf(servers.target));
  await run();
  const onTarget = targetMark.read();
  const onSource = sourceMark.read();
  const measured = {
    target: trafficOf(onTarget, isSyncConnection),
    source: trafficOf(onSource, isSyncConnection),
    sidecar: trafficOf(onTarget, SIDECAR_APPLICATION),
  };
  // The log must really be counting: every table's COPY shows on both sides.
  for (const [side, traffic] of [['target', measured.target], ['source', measured.source]] as const) {
    const copies = traffic.kinds.filter(([kind]) => kind.startsWith('COPY')).reduce((sum, [, n]) => sum + n, 0);
    assert.ok(copies >= (full ? ARCHON_TABLES.length : 1), `the ${side}'s log shows ${copies} COPY statements for ${ARCHON_TABLES.length} tables: is log_statement = all in effect?`);
  }
  for (const line of [
    `${label}:`,
    ...describeTraffic(`  target (limit ${TARGET_LIMIT})`, measured.target, 20),
    ...describeTraffic(`  source (limit ${SOURCE_LIMIT})`, measured.source, 8),
    ...(measured.sidecar.statements ? describeTraffic('  target, sidecar (not limited)', measured.sidecar, 5) : []),
  ]) t.diagnostic(line);
  return measured;
}

/** Both sides checked before failing, and the message carries the breakdown, so a failure says where the statements come from. */
function assertWithinLimits(measured: Measured, label: string): void {
  const over = ([['target', TARGET_LIMIT], ['source', SOURCE_LIMIT]] as const)
    .filter(([side, limit]) => measured[side].statements > limit)
    .map(([side, limit]) => [`${measured[side].statements} statements sent to the ${side}, more than ${limit}`, ...describeTraffic(side, measured[side], 10)].join('\n'));
  assert.ok(over.length === 0, `${label}:\n${over.join('\n')}`);
}

/**
 * Issue 27: a CLI run with nothing changed, every connection of the run counted (the sidecars' too: up to two
 * each in a run long enough for a probe or a progress write). Of these, the run's data path, its main connections,
 * keeps to DATA_PATH. The history rows travel in its messages: the start in the one that begins the transaction,
 * the outcome in COMMIT's.
 */
const NIGHTLY = { target: 8, source: 5 };
const DATA_PATH = { target: 6, source: 3 };
/**
 * What changes may add per side: once, the counts after the writes, the delete message, the foreign-key check, the
 * sequences, and the backup's reads (the old rows' weights, the target's identity, the sequence states) (target);
 * per changed table, its COPY pipe (one each side) and the backup's old rows and keys (two on the target). Never per
 * key.
 */
const ONCE_WITH_CHANGES = { target: 7, source: 0 };
const PER_CHANGED_TABLE = { target: 3, source: 1 };

/** A CLI run counted both ways: every connection, and the data path alone. */
async function nightly(t: TestContext, label: string, full: boolean, run: () => Promise<unknown>): Promise<{ all: { target: ApplicationTraffic; source: ApplicationTraffic }; data: { target: ApplicationTraffic; source: ApplicationTraffic } }> {
  const sourceMark = StatementLogMark.now(clusterOf(servers.source));
  const targetMark = StatementLogMark.now(clusterOf(servers.target));
  await run();
  const onTarget = targetMark.read();
  const onSource = sourceMark.read();
  const every = () => true;
  const measured = {
    all: { target: trafficOf(onTarget, every), source: trafficOf(onSource, every) },
    data: { target: trafficOf(onTarget, isSyncConnection), source: trafficOf(onSource, isSyncConnection) },
  };
  for (const line of [
    `${label}${full ? ' (full)' : ''}:`,
    ...describeTraffic(`  target, every connection (limit ${NIGHTLY.target})`, measured.all.target, 20),
    ...describeTraffic(`  target, data path (limit ${DATA_PATH.target})`, measured.data.target, 20),
    ...describeTraffic(`  source, every connection (limit ${NIGHTLY.source})`, measured.all.source, 10),
    ...describeTraffic(`  source, data path (limit ${DATA_PATH.source})`, measured.data.source, 10),
  ]) t.diagnostic(line);
  return measured;
}

function assertNightly(measured: { all: { target: ApplicationTraffic; source: ApplicationTraffic }; data: { target: ApplicationTraffic; source: ApplicationTraffic } }, label: string, changedTables: number): void {
  const extra = (side: 'target' | 'source') => (changedTables > 0 ? ONCE_WITH_CHANGES[side] + changedTables * PER_CHANGED_TABLE[side] : 0);
  const over = ([['all', 'target', NIGHTLY.target], ['all', 'source', NIGHTLY.source], ['data', 'target', DATA_PATH.target], ['data', 'source', DATA_PATH.source]] as const)
    .filter(([part, side, limit]) => measured[part][side].statements > limit + extra(side))
    .map(([part, side, limit]) => [`${measured[part][side].statements} statements sent to the ${side} (${part === 'all' ? 'every connection' : 'data path'}), more than ${limit + extra(side)}`,
      ...describeTraffic(side, measured[part][side], 20)].join('\n'));
  assert.ok(over.length === 0, `${label}:\n${over.join('\n')}`);
}

/** Columns to index, foreign keys to twin and integer columns to own a sequence: chosen from the catalog so the test follows the schema. */
async function extraObjects(server: TestServer, database: string) {
  const columns = await ownerSql(server, database,
    `SELECT DISTINCT ON (c.table_name) c.table_name, c.column_name
       FROM information_schema.columns c
      WHERE c.table_schema = 'public' AND c.table_name = ANY($1)
        AND c.data_type IN ('text', 'character varying', 'integer', 'bigint', 'timestamp with time zone')
        AND c.column_name <> 'id'
      ORDER BY c.table_name, c.ordinal_position`, [[...ARCHON_TABLES]]);
  const integers = await ownerSql(server, database,
    `SELECT DISTINCT ON (c.table_name) c.table_name, c.column_name
       FROM information_schema.columns c
      WHERE c.table_schema = 'public' AND c.table_name = ANY($1)
        AND c.data_type IN ('integer', 'bigint') AND c.column_default IS NULL
      ORDER BY c.table_name, c.ordinal_position`, [[...ARCHON_TABLES]]);
  const foreignKeys = await ownerSql(server, database,
    `SELECT con.conrelid::regclass::text AS child, pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con
      WHERE con.contype = 'f' AND con.conrelid = ANY(SELECT oid FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'public'::regnamespace)
        AND con.confrelid = ANY(SELECT oid FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'public'::regnamespace)
      ORDER BY con.conname`, [[...ARCHON_TABLES]]);
  return {
    indexes: columns.slice(0, 10).map((row, i) => `CREATE INDEX round_trip_extra_${i} ON ${String(row.table_name)} (${String(row.column_name)})`),
    // Twins of existing foreign keys: the data satisfies them, and the sync must check them like any other.
    foreignKeys: foreignKeys.slice(0, 3).map((row, i) => `ALTER TABLE ${String(row.child)} ADD CONSTRAINT round_trip_extra_fk_${i} ${String(row.definition)}`),
    sequences: integers.slice(0, 4).map((row, i) => `CREATE SEQUENCE round_trip_extra_seq_${i} OWNED BY ${String(row.table_name)}.${String(row.column_name)}`),
  };
}

describe('round trips of one sync (statements counted from the server logs)', () => {
  test(`a full sync of the 17 tables sends at most ${TARGET_LIMIT} statements to the target and ${SOURCE_LIMIT} to the source`, async (t) => {
    const db = await pair();
    const measured = await measure(t, 'history off', db.options);
    assertWithinLimits(measured, 'history off');
  });

  test('with history on, the sync\'s own connections stay within the same bounds (the row is written on the target connection)', async (t) => {
    const db = await pair();
    const measured = await measure(t, 'history on', {
      ...db.options,
      history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote', triggeredBy: 'round-trip test' },
    });
    assert.equal((await historyRows(servers.target, db.target)).at(-1)?.status, 'completed', 'no completed history row: was history on?');
    assertWithinLimits(measured, 'history on');
  });

  test('a CLI run reads the plan once: with --skip-confirm and through the prompt it sends what the library sends', async (t) => {
    const db = await pair();
    const library = await measure(t, 'library, history on', {
      ...db.options, history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote', triggeredBy: 'round-trip test' },
    });
    const env = { LOCAL_DATABASE_URI: db.options.source, REMOTE_DATABASE_URI: db.options.target };
    const args = ['--direction=local-to-remote', '--mode=full'];
    const skipped = await measureRun(t, 'CLI, --skip-confirm', async () => {
      const result = await runCli([...args, '--skip-confirm', '--log-format=json'], { env });
      assert.equal(result.code, 0, result.stderr);
    });
    const prompted = await measureRun(t, 'CLI, through the prompt', async () => {
      const result = await runCliInPty([...args, '--log-format=pretty'], { env, input: 'yes\n' });
      assert.equal(result.code, 0, result.raw);
      assert.match(result.raw, /Type "yes" to continue/);
    });
    for (const [label, measured] of [['CLI, --skip-confirm', skipped], ['CLI, through the prompt', prompted]] as const) {
      assertWithinLimits(measured, label);
      // One connection per side, and the library's statements: no plan read before the run.
      assert.deepEqual([measured.target.connections, measured.source.connections], [1, 1], `${label}: connections`);
      assert.deepEqual([measured.target.statements, measured.source.statements], [library.target.statements, library.source.statements], label);
    }
  });

  test('incremental runs keep to the same bounds: nothing changed, and a few rows changed in several tables', async (t) => {
    const db = await pair();
    await sync({ ...UNGUARDED, ...db.options, mode: 'full' });
    assertWithinLimits(await measure(t, 'incremental, nothing changed', { ...db.options, mode: 'incremental' }), 'incremental, nothing changed');
    await ownerSql(servers.source, db.source, `
      UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id % 5 = 0;
      DELETE FROM archon_code_examples WHERE id % 7 = 0;
      UPDATE archon_settings SET value = 'edited' WHERE key = (SELECT min(key) FROM archon_settings)`);
    assertWithinLimits(await measure(t, 'incremental, rows changed', { ...db.options, mode: 'incremental' }), 'incremental, rows changed');
  });

  test(`ten more indexes, three more foreign keys and four more sequences add at most ${GROWTH_ALLOWED} statements on either side, not one per object`, async (t) => {
    const db = await pair();
    const before = await measure(t, 'schema as created', db.options);
    const extra = await extraObjects(servers.target, db.target);
    assert.equal(extra.indexes.length, 10, 'the schema has fewer than ten tables with an indexable column');
    assert.equal(extra.foreignKeys.length, 3, 'the schema has fewer than three foreign keys among the 17 tables');
    assert.equal(extra.sequences.length, 4, 'the schema has fewer than four tables with a plain integer column');
    // Indexes and foreign keys on the target (the sync rebuilds and checks the target's own); sequences on both, as a migration would add them.
    for (const sql of [...extra.indexes, ...extra.foreignKeys, ...extra.sequences]) await ownerSql(servers.target, db.target, sql);
    for (const sql of extra.sequences) await ownerSql(servers.source, db.source, sql);
    const after = await measure(t, 'with 10 more indexes, 3 more foreign keys and 4 more sequences', db.options);
    const growth = { target: after.target.statements - before.target.statements, source: after.source.statements - before.source.statements };
    t.diagnostic(`growth: target ${growth.target >= 0 ? '+' : ''}${growth.target}, source ${growth.source >= 0 ? '+' : ''}${growth.source}`);
    const grown = (side: 'target' | 'source') => {
      const was = new Map(before[side].kinds);
      const added = after[side].kinds.filter(([kind, n]) => n > (was.get(kind) ?? 0)).map(([kind, n]) => `  +${n - (was.get(kind) ?? 0)}  ${kind}`);
      return [`${growth[side]} more statements on the ${side}`, ...added].join('\n');
    };
    const over = (['target', 'source'] as const).filter((side) => growth[side] > GROWTH_ALLOWED).map(grown);
    assert.ok(over.length === 0, `10 more indexes, 3 more foreign keys and 4 more sequences cost:\n${over.join('\n')}`);
  });

  test(`a nightly CLI run: nothing changed sends at most ${NIGHTLY.target} statements to the target and ${NIGHTLY.source} to the source, every connection counted; changes add a constant per changed table`, async (t) => {
    const db = await pair();
    const env = { LOCAL_DATABASE_URI: db.options.source, REMOTE_DATABASE_URI: db.options.target };
    const args = ['--direction=local-to-remote', '--mode=incremental'];
    const cli = async (label: string, prompt: boolean, full = false) => nightly(t, label, full, async () => {
      if (prompt) {
        const result = await runCliInPty([...args, '--log-format=pretty'], { env, input: 'yes\n' });
        assert.equal(result.code, 0, result.raw);
      } else {
        const result = await runCli([...args, '--skip-confirm', '--log-format=json'], { env });
        assert.equal(result.code, 0, result.stderr);
      }
    });
    // The first run copies every table (empty or not, the target has no watermark yet); the next ones go by it.
    await cli('first run', false, true);
    for (const prompt of [false, true]) {
      const how = prompt ? 'through the prompt' : '--skip-confirm';
      const unchanged = await cli(`nothing changed, ${how}`, prompt);
      assertNightly(unchanged, `nothing changed, ${how}`, 0);
      await ownerSql(servers.source, db.source, `
        UPDATE archon_crawled_pages SET content = content || ' (edited)' WHERE id % 5 = 0;
        DELETE FROM archon_code_examples WHERE id % 7 = 0;
        UPDATE archon_settings SET value = 'edited ${how}' WHERE key = (SELECT min(key) FROM archon_settings)`);
      assertNightly(await cli(`3 tables changed, ${how}`, prompt), `3 tables changed, ${how}`, 3);
    }
  });
});