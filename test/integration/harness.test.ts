// The harness itself: clusters are real, run as a non-superuser owner, and never outlive a failed or killed test run.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { generateArchonData } from '../../schema/generate.js';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { OWNER_ROLE, startCluster } from '../support/cluster.js';
import { fingerprintTables } from '../support/fingerprint.js';
import { ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';

interface ProbeCluster { dir: string; pid: number }

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

function runProbe(mode: 'fail' | 'wait', killWith?: NodeJS.Signals): Promise<{ code: number | null; clusters: ProbeCluster[]; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PROBE_MODE: mode };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [resolve('dist/test/fixtures/failing-probe.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let clusters: ProbeCluster[] = [];
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /PROBE (\[.*\])/.exec(output);
      if (match && clusters.length === 0) {
        clusters = JSON.parse(match[1] ?? '[]') as ProbeCluster[];
        if (killWith) child.kill(killWith);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, clusters, output }));
  });
}

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

test('a failing test file leaves no cluster, server process or temp dir behind', async () => {
  const { code, clusters, output } = await runProbe('fail');
  assert.notEqual(code, 0, 'the probe was meant to fail');
  assert.equal(clusters.length, 2, output);
  for (const cluster of clusters) {
    assert.ok(cluster.pid > 0);
    assert.ok(await waitGone(cluster.pid), `postmaster ${cluster.pid} still running`);
    assert.equal(existsSync(cluster.dir), false, `${cluster.dir} left behind`);
  }
});

test('a test run interrupted by SIGTERM or SIGINT cleans up too', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const { clusters, output } = await runProbe('wait', signal);
    assert.equal(clusters.length, 2, output);
    for (const cluster of clusters) {
      assert.ok(await waitGone(cluster.pid), `${signal}: postmaster ${cluster.pid} still running`);
      assert.equal(existsSync(cluster.dir), false, `${signal}: ${cluster.dir} left behind`);
    }
  }
});

test('clusters left by a SIGKILLed run are swept by the next harness start', async () => {
  const { clusters, output } = await runProbe('wait', 'SIGKILL');
  assert.equal(clusters.length, 2, output);
  const extra = await startCluster('sweeper');
  try {
    for (const cluster of clusters) {
      assert.ok(await waitGone(cluster.pid), `orphan postmaster ${cluster.pid} not stopped`);
      assert.equal(existsSync(cluster.dir), false, `orphan ${cluster.dir} not removed`);
    }
  } finally {
    extra.destroySync();
  }
});

test('the schema is applied by a non-superuser owner and every vector index is valid', async () => {
  const database = await servers.target.createDatabase('schema');
  const role = await ownerSql(servers.target, database, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`);
  assert.deepEqual(role, [{ rolsuper: false }]);
  const tables = await ownerSql(servers.target, database,
    `SELECT relname, pg_get_userbyid(relowner) AS owner, relrowsecurity FROM pg_class WHERE relname = ANY($1) AND relkind = 'r' ORDER BY relname`, [ARCHON_TABLES]);
  assert.equal(tables.length, 17);
  for (const table of tables) {
    assert.equal(table.owner, OWNER_ROLE);
    assert.equal(table.relrowsecurity, true, `${String(table.relname)} has RLS off`);
  }
  const vectorIndexes = await ownerSql(servers.target, database,
    `SELECT c.relname, i.indisvalid, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE am.amname IN ('ivfflat', 'hnsw') ORDER BY 1`);
  assert.ok(vectorIndexes.length >= 8, `only ${vectorIndexes.length} vector indexes`);
  assert.ok(vectorIndexes.every((i) => i.indisvalid === true));
  assert.ok(vectorIndexes.some((i) => i.amname === 'hnsw') && vectorIndexes.some((i) => i.amname === 'ivfflat'));
});

test('the generator is deterministic: same seed and scale give identical data, another seed does not', async () => {
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => servers.source.createDatabase('gen')));
  const fill = (db: string, seed: number) => servers.source.asOwner(db, (client) => generateArchonData(client, { seed, scale: 0.005 }));
  const [countsA, countsB] = [await fill(a!, 42), await fill(b!, 42)];
  await fill(c!, 43);
  assert.deepEqual(countsA, countsB);
  const print = (db: string) => servers.source.asOwner(db, (client) => fingerprintTables(client, ARCHON_TABLES));
  const [fa, fb, fc] = [await print(a!), await print(b!), await print(c!)];
  assert.deepEqual(fa, fb);
  for (const table of ARCHON_TABLES) assert.ok((fa[table]?.rows ?? 0) >= 2, `${table} has fewer than 2 rows`);
  assert.notDeepEqual(fa.archon_crawled_pages, fc.archon_crawled_pages);
});

test('secondaryIndexes: false gives the same data without the large tables\' vector and trigram indexes', async () => {
  const [withIndexes, without] = await Promise.all([1, 2].map(() => servers.source.createDatabase('gen')));
  await servers.source.asOwner(withIndexes!, (client) => generateArchonData(client, { seed: 7, scale: 0.005 }));
  await servers.source.asOwner(without!, (client) => generateArchonData(client, { seed: 7, scale: 0.005, secondaryIndexes: false }));
  const print = (db: string) => servers.source.asOwner(db, (client) => fingerprintTables(client, ARCHON_TABLES));
  assert.deepEqual(await print(withIndexes!), await print(without!));
  const pageIndexes = (db: string) => ownerSql(servers.source, db,
    `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'archon_crawled_pages'::regclass AND NOT i.indisunique ORDER BY 1`);
  const kept = await pageIndexes(withIndexes!);
  assert.ok(kept.some((i) => String(i.relname).includes('embedding_1536')), 'the default keeps the hnsw index');
  assert.deepEqual(await pageIndexes(without!), []);
});
