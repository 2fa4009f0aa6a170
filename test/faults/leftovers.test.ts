// What a run must not leave behind or get wrong around the copy itself: session settings on pooled connections,
// snapshots taken too early, sequences and index properties, history rows of runs that did commit, closed output.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ARCHON_TABLES } from '../../src/index.js';
import { CLI_PATH, emptyDir, runCli } from '../support/cli.js';
import { chownToPostgres, OWNER_ROLE } from '../support/cluster.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { startPgBouncer } from '../support/pgbouncer.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertNothingLeft, errorLines, historyRows, syncArgs } from './contract.js';
import { UNGUARDED_FLAGS } from '../support/unguarded.js';

let servers: TestServers;
let seed = 400;

before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

async function pair(targetSeed: number | undefined = seed + 1) {
  seed += 2;
  const [local, remote] = await Promise.all([filledDatabase(servers.source, seed, undefined, 'local'), filledDatabase(servers.target, targetSeed, undefined, 'remote')]);
  return { local, remote, env: { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) } };
}

async function assertEqual(local: string, remote: string, tables: readonly string[] = ARCHON_TABLES): Promise<void> {
  const [a, b] = await Promise.all([fingerprintDatabase(servers.source, local, tables), fingerprintDatabase(servers.target, remote, tables)]);
  for (const table of tables) assert.deepEqual(b[table], a[table], `${table} differs`);
}

describe('nothing left behind, nothing read too early', () => {
  test('through a transaction pooler, no session setting of ours stays on a pooled server connection', async () => {
    const db = await pair();
    const cluster = servers.target.cluster;
    assert.ok(cluster, 'needs a harness-started target');
    const bouncer = await startPgBouncer(cluster, 'transaction', 3);
    try {
      const result = await runCli(syncArgs(), { env: { ...db.env, REMOTE_DATABASE_URI: bouncer.uri(db.remote) } });
      assert.equal(result.code, 0, result.stderr);
      // Hold all three server connections at once, so every one of them is asked.
      const clients = await Promise.all([0, 1, 2].map(async () => {
        const client = new pg.Client({ connectionString: bouncer.uri(db.remote) });
        await client.connect();
        await client.query('BEGIN');
        return client;
      }));
      try {
        const settings = await Promise.all(clients.map(async (client) => (await client.query<Record<string, string>>(
          `SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('session_replication_role') AS srr, current_setting('DateStyle') AS ds`)).rows[0]));
        for (const s of settings) assert.deepEqual(s, { st: '0', lt: '0', srr: 'origin', ds: 'ISO, MDY' }, 'a setting of ours stayed on a pooled connection');
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    } finally {
      await bouncer.stop();
    }
  });

  test('a source table truncated just before the run starts is read after the TRUNCATE commits, not half-way', async () => {
    const db = await pair();
    const truncating = new pg.Client(servers.source.cluster?.adminConfig(db.local) ?? {});
    await truncating.connect();
    try {
      await truncating.query('BEGIN');
      await truncating.query('TRUNCATE archon_prompts');
      await truncating.query(`INSERT INTO archon_prompts (prompt_name, prompt) VALUES ('after-truncate', 'written by the truncating transaction')`);
      const run = runCli(syncArgs(), { env: db.env });
      // The run's source transaction must wait for the TRUNCATE's lock before it takes its snapshot.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const waiting = await servers.source.admin(db.local, async (c) => (await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'archon-sync' AND wait_event_type = 'Lock'`, [db.local])).rows[0]?.n ?? 0);
        if (waiting > 0) break;
        assert.ok(Date.now() < deadline, 'the run never waited for the source lock');
        await new Promise((r) => setTimeout(r, 50));
      }
      await truncating.query('COMMIT');
      const result = await run;
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await truncating.end();
    }
    const [row] = await ownerSql(servers.target, db.remote, 'SELECT count(*)::int AS n, min(prompt_name) AS name FROM archon_prompts');
    assert.deepEqual(row, { n: 1, name: 'after-truncate' });
    await assertEqual(db.local, db.remote);
  });

  test('a source sequence the role may not read does not break the run, with --verify=checksum', async () => {
    const db = await pair();
    await servers.source.admin(db.local, (c) => c.query(`REVOKE ALL ON SEQUENCE archon_llm_pricing_id_seq FROM ${OWNER_ROLE}`));
    const result = await runCli(syncArgs('--verify=checksum'), { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    await assertEqual(db.local, db.remote);
  });

  test('a table copied as text keeps its dates when the two databases use different DateStyles', async () => {
    const db = await pair();
    for (const [server, database, style] of [[servers.source, db.local, 'SQL, MDY'], [servers.target, db.remote, 'SQL, DMY']] as const) {
      // An enum array column sends archon_tasks as text (binary COPY would embed the enum's OID).
      await server.admin(database, (c) => c.query(`ALTER DATABASE ${database} SET DateStyle = '${style}'`));
      await ownerSql(server, database, 'ALTER TABLE archon_tasks ADD COLUMN states task_status[]');
    }
    await ownerSql(servers.source, db.local, `UPDATE archon_tasks SET due_date = '2026-03-04', states = '{todo,done}'`);
    const result = await runCli(syncArgs(), { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes('archon_tasks is copied in text format'), 'the table really travelled as text');
    const [row] = await servers.target.admin(db.remote, async (c) => (await c.query<{ d: string }>(`SELECT DISTINCT to_char(due_date, 'YYYY-MM-DD') AS d FROM archon_tasks`)).rows);
    assert.equal(row?.d, '2026-03-04');
    await assertEqual(db.local, db.remote);
  });

  test('a sequence a column uses through DEFAULT nextval() without owning it is moved past every copied value', async () => {
    const db = await pair();
    for (const [server, database] of [[servers.source, db.local], [servers.target, db.remote]] as const) {
      await ownerSql(server, database, `CREATE SEQUENCE prompt_order_seq; ALTER TABLE archon_prompts ADD COLUMN display_order bigint DEFAULT nextval('prompt_order_seq')`);
    }
    await ownerSql(servers.source, db.local, `SELECT setval('prompt_order_seq', 500); UPDATE archon_prompts SET display_order = nextval('prompt_order_seq')`);
    const result = await runCli(syncArgs(), { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    const [row] = await ownerSql(servers.target, db.remote, `SELECT nextval('prompt_order_seq') > (SELECT max(display_order) FROM archon_prompts) AS past, (SELECT max(display_order) FROM archon_prompts) >= 500 AS copied`);
    assert.deepEqual(row, { past: true, copied: true });
  });

  test('a rebuilt index keeps REPLICA IDENTITY, its comment, statistics target, CLUSTER mark and tablespace', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('creating a tablespace directory owned by postgres needs root');
      return;
    }
    const db = await pair();
    const location = join(tmpdir(), `archon-sync-ts-${process.pid}-${seed}`);
    mkdirSync(location, { recursive: true });
    chownToPostgres(location);
    const tablespace = `archon_extra_${seed}`;
    try {
      await servers.target.admin(db.remote, async (c) => {
        await c.query(`CREATE TABLESPACE ${tablespace} LOCATION '${location}'`);
        await c.query(`GRANT CREATE ON TABLESPACE ${tablespace} TO ${OWNER_ROLE}`);
      });
      await ownerSql(servers.target, db.remote, `
        CREATE UNIQUE INDEX archon_settings_key_identity ON archon_settings (key);
        ALTER TABLE archon_settings REPLICA IDENTITY USING INDEX archon_settings_key_identity;
        COMMENT ON INDEX archon_settings_key_identity IS 'used by logical replication';
        CREATE INDEX archon_settings_lower_key ON archon_settings (lower(key)) TABLESPACE ${tablespace};
        ALTER INDEX archon_settings_lower_key ALTER COLUMN 1 SET STATISTICS 321;
        ALTER TABLE archon_settings CLUSTER ON archon_settings_lower_key`);
      const facts = `SELECT c.relname, i.indisreplident, i.indisclustered, obj_description(c.oid, 'pg_class') AS comment,
                            (SELECT spcname FROM pg_tablespace WHERE oid = c.reltablespace) AS tablespace,
                            (SELECT attstattarget FROM pg_attribute WHERE attrelid = c.oid AND attnum = 1) AS stats
                       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                      WHERE c.relname IN ('archon_settings_key_identity', 'archon_settings_lower_key') ORDER BY 1`;
      const before = await ownerSql(servers.target, db.remote, facts);
      const result = await runCli(syncArgs(), { env: db.env });
      assert.equal(result.code, 0, result.stderr);
      const after = await ownerSql(servers.target, db.remote, facts);
      assert.deepEqual(after, before);
      assert.equal(after.length, 2);
      assert.deepEqual(after.map((r) => [r.indisreplident, r.indisclustered, r.tablespace]), [[true, false, null], [false, true, tablespace]]);
    } finally {
      await ownerSql(servers.target, db.remote, 'DROP INDEX IF EXISTS archon_settings_lower_key').catch(() => undefined);
      await servers.target.admin(db.remote, (c) => c.query(`DROP TABLESPACE IF EXISTS ${tablespace}`)).catch(() => undefined);
      rmSync(location, { recursive: true, force: true });
    }
  });
});

describe('history rows of runs that died', () => {
  test('a run that committed but could not record it is marked completed; one that did not, failed; other writers\' rows are left alone', async () => {
    const db = await pair();
    const xids = await servers.target.admin(db.remote, async (c) => {
      await c.query('BEGIN');
      const committed = (await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x;
      await c.query('COMMIT');
      await c.query('BEGIN');
      const aborted = (await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x;
      await c.query('ROLLBACK');
      return { committed, aborted };
    });
    await servers.target.admin(db.remote, (c) => c.query(
      `INSERT INTO archon_sync_history (sync_id, direction, status, metadata, started_at) VALUES
         ('sync_20260101_000001', 'local-to-remote', 'running', jsonb_build_object('tool', 'archon-sync', 'target_xid', $1::text), now() - interval '3 hours'),
         ('sync_20260101_000002', 'local-to-remote', 'running', jsonb_build_object('tool', 'archon-sync', 'target_xid', $2::text), now() - interval '2 hours'),
         ('sync_20260101_000003', 'local-to-remote', 'running', '{}'::jsonb, now() - interval '1 hour')`, [xids.committed, xids.aborted]));
    const result = await runCli(syncArgs(), { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    const rows = await historyRows(servers.target, db.remote);
    const status: Record<string, unknown> = Object.fromEntries(rows.map((r) => [String(r.sync_id), r.status]));
    assert.equal(status.sync_20260101_000001, 'completed');
    assert.equal(status.sync_20260101_000002, 'failed');
    assert.equal(status.sync_20260101_000003, 'running', 'a row of another writer was changed');
    assert.match(String(rows.find((r) => r.sync_id === 'sync_20260101_000002')?.error_message), /nothing it did was committed/);
    assert.equal(rows.find((r) => r.sync_id === 'sync_20260101_000001')?.error_message, null);
  });
});

describe('bad selections and closed output', () => {
  test('archon_sync_history cannot be selected: exit 1, nothing contacted', async () => {
    const result = await runCli(syncArgs('--tables=archon_settings,archon_sync_history'), { env: { LOCAL_DATABASE_URI: 'postgresql://u:p@127.0.0.1:1/a', REMOTE_DATABASE_URI: 'postgresql://u:p@127.0.0.1:1/b' } });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(errorLines(result).length, 1);
    assert.match(errorLines(result)[0] ?? '', /archon_sync_history is archon-sync's own run log/);
  });

  for (const format of ['json', 'pretty'] as const) {
    test(`stdout and stderr closed under a running sync (${format}): the sync completes, exit 0, history completed`, async () => {
      const db = await pair();
      const child = spawn(process.execPath, ['--', CLI_PATH, '--direction=local-to-remote', '--skip-confirm', `--log-format=${format}`, ...UNGUARDED_FLAGS], {
        cwd: emptyDir(), env: { ...process.env, ...db.env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      // As `archon-sync … 2>&1 | head -0` does: the reader goes away at once.
      child.stdout.destroy();
      child.stderr.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 0);
      const rows = await historyRows(servers.target, db.remote);
      assert.equal(rows.at(-1)?.status, 'completed');
      await assertEqual(db.local, db.remote);
      await assertNothingLeft(servers.target, db.remote);
    });
  }
});
