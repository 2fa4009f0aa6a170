// The edges of a run (issue 26): scarce connection slots, a pooler in front of either side, a client killed with
// kill -9, a COMMIT that waits for a synchronous standby that is not there. Every run leaves a history row with its
// outcome, a full pool is never taken for a dead server, and nothing of ours holds a lock for long.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runCli } from '../support/cli.js';
import type { Cluster } from '../support/cluster.js';
import { filledDatabase, fingerprintDatabase } from '../support/fixtures.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import { STATEMENT_LOG_SETTINGS, StatementLogMark, trafficOf } from '../support/statement-log.js';
import { ARCHON_TABLES, sync } from '../../src/index.js';
import { assertFailure, assertNothingLeft, historyRows, runWhenSeen, snapshot, syncArgs } from './contract.js';

// Few connection slots on the target, so a test can leave exactly 1, 2 or 3 of them free for the run.
const MAX_CONNECTIONS = 10;
const RESERVED = 3;
// Big enough that a copy and an index build take a moment, small enough to keep the file quick.
const SCALE = 0.05;

// The file's two servers, its source database (filled) and target database, and the CLI's environment for them.
let servers: TestServers;
let [local, remote] = ['', ''];
let env: Record<string, string> = {};

before(async () => {
  servers = await testServers({
    source: { settings: { ...STATEMENT_LOG_SETTINGS } },
    target: { settings: { ...STATEMENT_LOG_SETTINGS, max_connections: MAX_CONNECTIONS, superuser_reserved_connections: RESERVED } },
  });
  [local, remote] = await Promise.all([filledDatabase(servers.source, 261, SCALE, 'local'), filledDatabase(servers.target, 262, undefined, 'remote')]);
  env = { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) };
  // One full copy first: each test's own run then moves a little, and the file stays quick.
  assert.equal((await runCli(syncArgs(), { env })).code, 0);
});
after(async () => { await servers?.close(); });

function cluster(server: TestServer): Cluster {
  assert.ok(server.cluster, 'needs harness-started servers');
  return server.cluster;
}

/** The newest history row's status, and that it is the only new one since `count` rows. */
async function newestRun(count: number): Promise<Record<string, unknown> | undefined> {
  const rows = await historyRows(servers.target, remote);
  assert.equal(rows.length, count + 1, `one new history row expected: ${JSON.stringify(rows.slice(count))}`);
  return rows.at(-1);
}

/** Something changed on the source, so each run has work to do. */
async function touchSource(): Promise<void> {
  await servers.source.asOwner(local, (client) => client.query(`UPDATE archon_settings SET value = md5(random()::text) WHERE key = (SELECT min(key) FROM archon_settings)`));
}

describe('scarce connection slots on the target', () => {
  for (const free of [1, 2, 3]) {
    test(`${free} free slot${free > 1 ? 's' : ''}: the run completes and records its row on its own connection`, async () => {
      const holders: pg.Client[] = [];
      try {
        for (let i = 0; i < MAX_CONNECTIONS - RESERVED - free; i++) {
          const client = new pg.Client({ connectionString: servers.target.ownerUri('postgres') });
          await client.connect();
          holders.push(client);
        }
        const count = (await historyRows(servers.target, remote)).length;
        await touchSource();
        const result = await runCli(syncArgs('--mode=incremental'), { env });
        assert.equal(result.code, 0, result.stderr);
        assert.equal((await newestRun(count))?.status, 'completed');
      } finally {
        await Promise.all(holders.map((client) => client.end()));
      }
      await assertNothingLeft(servers.target, remote);
    });
  }
});

describe('the run\'s row and its transaction share a message', () => {
  test('a transaction the target refuses to begin, after the row was written: one line, target unchanged, the row says failed and why', async () => {
    const before = await snapshot(servers.target, remote);
    const count = (await historyRows(servers.target, remote)).length;
    await touchSource();
    // Accepted as an amount of memory here; past the server's range, so SET LOCAL fails in the message's second half.
    const result = await runCli(syncArgs('--mode=incremental', '--maintenance-work-mem=3TB'), { env });
    await assertFailure(result, { code: 3, message: /maintenance_work_mem/, target: { server: servers.target, database: remote, before }, history: 'failed' });
    const row = await newestRun(count);
    assert.match(String(row?.error_message), /maintenance_work_mem/);
  });

  test('a sync id another run took: the row gets the next free one, and the run\'s connection is named after it in the same message', async () => {
    const syncId = 'sync_20990101_000000';
    const options = {
      source: servers.source.ownerUri(local), target: servers.target.ownerUri(remote), mode: 'incremental' as const, maxDeleteShare: 1, targetChanges: 'overwrite' as const,
      history: { direction: 'local-to-remote' as const, sourceDb: 'local', targetDb: 'remote', syncId },
    };
    assert.equal((await sync(options)).syncId, syncId);
    await touchSource();
    let names: string[] = [];
    // Asked while the run waits for its confirmation, its transaction open on that connection.
    const second = await sync({ ...options, confirm: async () => {
      names = await servers.target.admin('postgres', async (client) => (await client.query<{ name: string }>(
        `SELECT application_name AS name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'archon-sync sync_2099%'`, [remote])).rows.map((r) => r.name));
      return true;
    } });
    assert.equal(second.syncId, `${syncId}_2`);
    assert.deepEqual(names, [`archon-sync ${syncId}_2`]);
  });

  test('the outcome refused right after COMMIT, in COMMIT\'s message: the run committed all the same (exit 0), says so, and the next run settles the row', async () => {
    const count = (await historyRows(servers.target, remote)).length;
    await touchSource();
    await servers.target.asOwner(remote, (client) => client.query(`
      CREATE FUNCTION refuse_completed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'completed refused by the test'; END $$;
      CREATE TRIGGER refuse_completed BEFORE UPDATE ON archon_sync_history FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION refuse_completed()`));
    try {
      const result = await runCli(syncArgs('--mode=incremental'), { env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /the outcome of this run could not be written to archon_sync_history/);
      assert.deepEqual(await fingerprintDatabase(servers.target, remote, ARCHON_TABLES), await fingerprintDatabase(servers.source, local, ARCHON_TABLES));
      assert.equal((await newestRun(count))?.status, 'running');
    } finally {
      await servers.target.asOwner(remote, (client) => client.query('DROP TRIGGER refuse_completed ON archon_sync_history; DROP FUNCTION refuse_completed()'));
    }
    // A row is settled by a later run once it is 2 s old (settleAbandonedStatement).
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal((await runCli(syncArgs('--mode=incremental'), { env })).code, 0);
    const rows = await historyRows(servers.target, remote);
    assert.equal(rows[count]?.status, 'completed', `settled from txid_status: ${JSON.stringify(rows[count])}`);
  });
});

describe('connections per side', () => {
  test('a run opens at most two connections per side (its own and the sidecar), and a nothing-changed run sends the sidecar almost nothing', async () => {
    const marks = { source: StatementLogMark.now(cluster(servers.source)), target: StatementLogMark.now(cluster(servers.target)) };
    await touchSource();
    assert.equal((await runCli(syncArgs(), { env })).code, 0);
    for (const side of ['source', 'target'] as const) {
      const excerpt = marks[side].read();
      // Every connection of ours, whatever its name (the harness's own clients set none).
      const ours = trafficOf(excerpt, (name) => name !== '');
      assert.ok(ours.connections <= 2, `${side}: ${ours.connections} connections`);
      assert.ok(trafficOf(excerpt, 'archon-sync-sidecar').connections <= 1, side);
    }
    const quiet = { source: StatementLogMark.now(cluster(servers.source)), target: StatementLogMark.now(cluster(servers.target)) };
    assert.equal((await runCli(syncArgs('--mode=incremental'), { env })).code, 0);
    const beside = { source: trafficOf(quiet.source.read(), 'archon-sync-sidecar'), target: trafficOf(quiet.target.read(), 'archon-sync-sidecar') };
    assert.ok(beside.target.statements <= 2 && beside.source.statements <= 1, JSON.stringify(beside));
  });
});

describe('another run holding the target', () => {
  test('is named from the lock holder, and the refusal comes within 1 s', async () => {
    const holder = new pg.Client({ connectionString: servers.target.ownerUri(remote), application_name: 'archon-sync sync_20991231_235959' });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(1095910216, 1)');
      const started = Date.now();
      await assert.rejects(sync({
        source: env.LOCAL_DATABASE_URI ?? '', target: env.REMOTE_DATABASE_URI ?? '',
        history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote' },
      }), /another archon-sync run \(sync_20991231_235959, pid \d+, since [^)]+\) is writing to this target/);
      const took = Date.now() - started;
      assert.ok(took < 1_000, `refused after ${took} ms`);
      const cliStarted = Date.now();
      const result = await runCli(syncArgs(), { env });
      const cliTook = Date.now() - cliStarted;
      assert.equal(result.code, 3);
      assert.match(result.stderr, /another archon-sync run \(sync_20991231_235959,/);
      // The whole CLI process, node's start included, on a loaded machine.
      assert.ok(cliTook < 5_000, `the CLI was refused after ${cliTook} ms (the library after ${took} ms)`);
    } finally {
      await holder.end();
    }
  });
});

describe('a pooler in front of each side', () => {
  for (const mode of ['transaction', 'session'] as const) {
    for (const poolSize of [1, 2]) {
      test(`PgBouncer in ${mode} mode, pool size ${poolSize}, on both sides: the run completes, never "stopped answering"`, async () => {
        const bouncers: PgBouncer[] = [];
        try {
          bouncers.push(await startPgBouncer(cluster(servers.source), mode, poolSize), await startPgBouncer(cluster(servers.target), mode, poolSize));
          const [source, target] = bouncers;
          const count = (await historyRows(servers.target, remote)).length;
          await touchSource();
          // A short stall timeout, so the probe is overdue within the run whenever the pool has no room for it
          // (shorter would fail a copy whose source pauses that long on a loaded machine). A full copy, long enough
          // for that, where the pool has a single server connection; a quick incremental run where it has two.
          const load = poolSize === 1 ? '--mode=full' : '--mode=incremental';
          const result = await runCli(syncArgs('--stall-timeout=3', load), { env: { LOCAL_DATABASE_URI: source?.uri(local) ?? '', REMOTE_DATABASE_URI: target?.uri(remote) ?? '' } });
          assert.equal(result.code, 0, result.stderr);
          assert.doesNotMatch(result.stdout + result.stderr, /stopped answering/);
          assert.equal((await newestRun(count))?.status, 'completed');
        } finally {
          for (const bouncer of bouncers) await bouncer.stop();
        }
      });
    }
  }

  test('a pool with no free server connection: exit 3 naming the pooler, after its query_wait_timeout', async () => {
    const bouncer = await startPgBouncer(cluster(servers.target), 'session', 1, { query_wait_timeout: 2 });
    const holder = new pg.Client({ connectionString: bouncer.uri(remote) });
    try {
      // In session mode the only server connection stays with the client that first used it.
      await holder.connect();
      await holder.query('SELECT 1');
      const before = await snapshot(servers.target, remote);
      const result = await runCli(syncArgs(), { env: { ...env, REMOTE_DATABASE_URI: bouncer.uri(remote) } });
      await assertFailure(result, {
        code: 3, message: new RegExp(`target's pooler at 127\\.0\\.0\\.1:${bouncer.port}/${remote} has no free server connection.*raise its pool_size or use session mode`),
        target: { server: servers.target, database: remote, before },
      });
      assert.doesNotMatch(result.stderr, /stopped answering/);
    } finally {
      await holder.end().catch(() => undefined);
      await bouncer.stop();
    }
  });
});

/** How long after `since` the target holds no lock of a backend of ours (relation or advisory). */
async function locksFreeAfter(since: number): Promise<number> {
  for (;;) {
    const held = await servers.target.admin(remote, async (client) => (await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.application_name LIKE 'archon-sync%' AND (l.locktype = 'advisory' OR l.locktype = 'relation')`)).rows[0]?.n ?? 0);
    if (held === 0) return Date.now() - since;
    if (Date.now() - since > 30_000) return Infinity;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the client killed with kill -9', () => {
  for (const [when, queryLike] of [['building indexes', '%CREATE INDEX%'], ['copying a table', 'COPY "public"."archon_crawled_pages"%FROM STDIN%']] as const) {
    test(`while ${when}: the target's backend ends and every lock is free within 5 s`, async () => {
      const before = await snapshot(servers.target, remote);
      let killedAt = 0;
      const result = await runWhenSeen(syncArgs(), { env, server: servers.target, database: remote, queryLike }, (child) => {
        killedAt = Date.now();
        child.kill('SIGKILL');
      });
      assert.equal(result.signal, 'SIGKILL');
      const freeAfter = await locksFreeAfter(killedAt);
      assert.ok(freeAfter <= 5_000, `locks held ${freeAfter} ms after kill -9`);
      assert.deepEqual(await snapshot(servers.target, remote), before);
      await assertNothingLeft(servers.target, remote);
      // The next run settles the dead run's row: it never committed.
      const count = (await historyRows(servers.target, remote)).length;
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal((await runCli(syncArgs('--mode=incremental'), { env })).code, 0);
      const rows = await historyRows(servers.target, remote);
      assert.equal(rows.length, count + 1);
      assert.equal(rows.at(-2)?.status, 'failed', JSON.stringify(rows.at(-2)));
      assert.match(String(rows.at(-2)?.error_message), /nothing it did was committed/);
    });
  }
});

describe('privileges checked before any write', () => {
  test('a table owner without CREATE on the schema: refused before the copy, naming the grant', async () => {
    await touchSource();
    const before = await snapshot(servers.target, remote);
    await servers.target.admin(remote, async (client) => {
      await client.query('ALTER SCHEMA public OWNER TO postgres');
      await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    });
    try {
      const result = await runCli(syncArgs(), { env });
      await assertFailure(result, {
        code: 3, message: /role "archon_owner" lacks CREATE on schema public on the target, which rebuilding the indexes of \w+ and \d+ more needs; GRANT CREATE ON SCHEMA public/,
        target: { server: servers.target, database: remote, before }, history: 'failed',
      });
    } finally {
      await servers.target.admin(remote, (client) => client.query('ALTER SCHEMA public OWNER TO pg_database_owner'));
    }
  });

  test('a source role that may not read a table: refused at once, naming the source, the table and the SELECT it needs', async () => {
    const before = await snapshot(servers.target, remote);
    const role = 'archon_reader_without_sources';
    const password = 'Reader-s3cret-pw';
    await servers.source.admin(local, (client) => client.query(`
      CREATE ROLE ${role} LOGIN PASSWORD '${password}';
      GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role};
      REVOKE SELECT ON archon_sources FROM ${role}`));
    try {
      const source = new URL(servers.source.ownerUri(local));
      source.username = role;
      source.password = password;
      const result = await runCli(syncArgs(), { env: { ...env, LOCAL_DATABASE_URI: source.toString() } });
      await assertFailure(result, {
        code: 3, message: /the source \S+ does not let this role read a table it copies \(permission denied for table archon_sources\); a source needs only SELECT on the Archon tables/,
        target: { server: servers.target, database: remote, before },
      });
      assert.ok(!result.stderr.includes(password) && !result.stdout.includes(password), 'password in output');
    } finally {
      await servers.source.admin(local, (client) => client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`));
    }
  });

  test('a read-only target role: refused at once, named as such', async () => {
    const before = await snapshot(servers.target, remote);
    await servers.target.admin('postgres', (client) => client.query(`ALTER ROLE archon_owner IN DATABASE ${remote} SET default_transaction_read_only = on`));
    try {
      const result = await runCli(syncArgs(), { env });
      await assertFailure(result, {
        code: 3, message: /the target \S+ is read-only for role "archon_owner" \(default_transaction_read_only is on/,
        target: { server: servers.target, database: remote, before },
      });
    } finally {
      await servers.target.admin('postgres', (client) => client.query(`ALTER ROLE archon_owner IN DATABASE ${remote} RESET default_transaction_read_only`));
    }
  });
});

describe('a synchronous standby that is not there', () => {
  test('COMMIT waits past --commit-timeout: cancelled, exit 6 saying committed but unconfirmed, history row completed with the fact', async () => {
    await touchSource();
    const count = (await historyRows(servers.target, remote)).length;
    await servers.target.admin('postgres', async (client) => {
      await client.query(`ALTER SYSTEM SET synchronous_standby_names = 'nowhere'`);
      await client.query('SELECT pg_reload_conf()');
      // The harness turns synchronous_commit off; a commit waits for a standby only with it on.
      await client.query(`ALTER DATABASE ${remote} SET synchronous_commit = on`);
    });
    try {
      const started = Date.now();
      const result = await runCli(syncArgs('--mode=incremental', '--commit-timeout=2'), { env });
      assert.equal(result.code, 6, result.stderr);
      assert.ok(Date.now() - started < 60_000);
      await assertFailure(result, { code: 6, message: /committed on the target .* but its synchronous standby did not confirm the commit within 2 s \(--commit-timeout\)/ });
      const row = await newestRun(count);
      assert.equal(row?.status, 'completed');
      assert.match(String(row?.error_message), /synchronous standby did not confirm/);
      assert.equal((row?.metadata as Record<string, unknown>).commit, 'committed locally; not confirmed by the synchronous standby');
      await assertNothingLeft(servers.target, remote);
    } finally {
      await servers.target.admin('postgres', async (client) => {
        await client.query('ALTER SYSTEM RESET synchronous_standby_names');
        await client.query('SELECT pg_reload_conf()');
        await client.query(`ALTER DATABASE ${remote} RESET synchronous_commit`);
      });
    }
  });
});
