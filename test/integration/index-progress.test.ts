// IndexProgressMonitor against a real server: an HNSW build watched from a second connection, and its failures.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { connect } from '../../src/pg/connect.js';
import { IndexProgressMonitor, type IndexBuildSample } from '../../src/pg/index-progress.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';

let servers: TestServers;
let server: TestServer;
let database: string;

before(async () => {
  servers = await testServers();
  server = servers.target;
  database = await server.createDatabase('progress');
  // Random 256-d vectors: an HNSW graph over them builds slowly enough (seconds) for several readings.
  await server.asOwner(database, async (client) => {
    await client.query('CREATE TABLE vectors (id int PRIMARY KEY, embedding vector(256))');
    await client.query(`INSERT INTO vectors
      SELECT g, (SELECT array_agg(random())::vector(256) FROM generate_series(1, 256) WHERE g > 0) FROM generate_series(1, 2000) g`);
    await client.query('ANALYZE vectors');
  });
});
after(async () => { await servers?.close(); });

function monitorConnection(applicationName: string): () => Promise<pg.Client> {
  return () => connect(server.ownerUri(database), { side: 'target (progress)', connectTimeoutMs: 10_000, applicationName });
}

async function backendsNamed(applicationName: string): Promise<number> {
  return server.admin('postgres', async (client) =>
    (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rows[0]?.n ?? -1);
}

/** A backend ends a moment after its client says goodbye; wait for it rather than race it. */
async function assertNoBackend(applicationName: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await backendsNamed(applicationName)) > 0) {
    assert.ok(Date.now() < deadline, `a backend named ${applicationName} is still there`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('IndexProgressMonitor', () => {
  test('reports an HNSW build\'s phase, blocks and tuples from its own connection, then leaves no backend behind', async () => {
    const builder = await server.owner(database);
    const samples: IndexBuildSample[] = [];
    try {
      await builder.query('BEGIN');
      // One backend, no parallel workers: the leader's counters are the whole build.
      await builder.query(`SET LOCAL max_parallel_maintenance_workers = 0; SET LOCAL maintenance_work_mem = '256MB'`);
      const pid = (await builder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const monitor = IndexProgressMonitor.start(monitorConnection('progress-test-hnsw'), pid, (s) => samples.push(s), { intervalMs: 200 });
      const started = Date.now();
      await builder.query('CREATE INDEX vectors_hnsw ON vectors USING hnsw (embedding vector_cosine_ops)');
      const seconds = (Date.now() - started) / 1000;
      await monitor.stop();
      await monitor.stop();
      assert.equal(monitor.error, undefined);
      assert.ok(samples.length >= 2, `${samples.length} readings in a ${seconds.toFixed(1)} s build`);
      for (const s of samples) {
        assert.match(s.phase, /^(initializing|building index: loading tuples)$/);
        assert.equal(s.table, 'vectors');
        assert.equal(s.index, undefined, 'a plain CREATE INDEX has no index_relid to name');
        assert.equal(s.command, 'CREATE INDEX');
        assert.ok(s.blocksDone <= s.blocksTotal || s.blocksTotal === 0);
      }
      const scanning = samples.filter((s) => s.blocksTotal > 0);
      assert.ok(scanning.length >= 1, 'pgvector reports the blocks it scanned');
      for (let i = 1; i < samples.length; i++) {
        assert.ok(samples[i]!.blocksDone >= samples[i - 1]!.blocksDone, 'blocks done went back');
        assert.ok(samples[i]!.tuplesDone >= samples[i - 1]!.tuplesDone, 'tuples done went back');
        assert.ok(samples[i]!.sampledAt > samples[i - 1]!.sampledAt);
      }
      assert.ok(samples.some((s) => s.tuplesDone > 0), 'pgvector counts the tuples it inserted');
      await assertNoBackend('progress-test-hnsw');
    } finally {
      await builder.query('ROLLBACK').catch(() => undefined);
      await builder.end();
    }
  });

  test('reports nothing while the backend builds no index', async () => {
    const idle = await server.owner(database);
    try {
      const pid = (await idle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const samples: IndexBuildSample[] = [];
      const monitor = IndexProgressMonitor.start(monitorConnection('progress-test-idle'), pid, (s) => samples.push(s), { intervalMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      await monitor.stop();
      assert.deepEqual(samples, []);
      assert.equal(monitor.error, undefined);
      await assertNoBackend('progress-test-idle');
    } finally {
      await idle.end();
    }
  });

  test('goes quiet instead of throwing when it cannot connect', async () => {
    const monitor = IndexProgressMonitor.start(() => connect('postgresql://nobody:wrong@127.0.0.1:1/none?sslmode=disable', { side: 'progress', connectTimeoutMs: 2000 }),
      1, () => assert.fail('no sample expected'), { intervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await monitor.stop();
    assert.match(String(monitor.error), /refused|connect/i);
  });

  test('goes quiet when its own backend is terminated mid-watch, and still closes cleanly', async () => {
    const samples: IndexBuildSample[] = [];
    const monitor = IndexProgressMonitor.start(monitorConnection('progress-test-killed'), 1, (s) => samples.push(s), { intervalMs: 50 });
    const deadline = Date.now() + 5000;
    while ((await backendsNamed('progress-test-killed')) === 0) {
      assert.ok(Date.now() < deadline, 'the monitor never connected');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await server.admin('postgres', (client) => client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'progress-test-killed'`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await monitor.stop();
    assert.ok(monitor.error !== undefined, 'the failed reading is kept, not thrown');
    await assertNoBackend('progress-test-killed');
  });

  test('stopped while still connecting, it closes the connection it then gets', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slowConnect = async () => {
      const client = await monitorConnection('progress-test-slow')();
      await gate;
      return client;
    };
    const monitor = IndexProgressMonitor.start(slowConnect, 1, () => assert.fail('no sample expected'));
    const stopping = monitor.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await backendsNamed('progress-test-slow'), 1, 'connected, waiting to be handed over');
    release();
    await stopping;
    await assertNoBackend('progress-test-slow');
  });
});
