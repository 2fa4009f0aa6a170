// Index rebuilds under tight memory. A local Supabase in Docker has a 64 MB /dev/shm unless its compose file
// says otherwise, and a parallel HNSW build with the default --maintenance-work-mem needs more: syncing into it
// must still succeed, exactly. And an HNSW graph that outgrows maintenance_work_mem must be reported.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ARCHON_TABLES, CopyError, sync } from '../../src/index.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { UNGUARDED } from '../support/unguarded.js';

const isRoot = process.getuid?.() === 0;
const SCALE = 0.05;

let servers: TestServers | undefined;

before(async () => {
  // The planner gives an index build workers only past min_parallel_table_scan_size of main heap (vectors and
  // text are TOASTed, so a test-sized table stays below the 8 MB default where a real one is far above it).
  servers = await testServers(isRoot ? { target: { sharedMemoryMb: 64, settings: { min_parallel_table_scan_size: '64kB' } } } : {});
});
after(() => servers?.close());

test('into a server with a container\'s 64 MB /dev/shm: the parallel HNSW build falls back to serial, warns, and the copy is exact',
  { skip: isRoot ? false : 'a /dev/shm limit needs root (mount namespace); CI runs as root' },
  async () => {
    const { source: sourceServer, target: targetServer } = servers!;
    const [source, target] = await Promise.all([filledDatabase(sourceServer, 11, SCALE), filledDatabase(targetServer, 12, SCALE)]);

    // The trap is real on this server: the same build with the sync's settings fails as in Docker.
    await assert.rejects(ownerSql(targetServer, target, `DO $$ BEGIN
        SET LOCAL maintenance_work_mem = '256MB';
        SET LOCAL max_parallel_maintenance_workers = 2;
        CREATE INDEX archon_sync_probe ON archon_crawled_pages USING hnsw (embedding_1536 vector_cosine_ops);
      END $$`), (error: { code?: string; message?: string }) => error.code === '53100' && /shared memory segment/.test(error.message ?? ''));

    const result = await sync({ ...UNGUARDED, source: sourceServer.ownerUri(source), target: targetServer.ownerUri(target) });
    const fallbacks = result.warnings.filter((w) => /ran out of shared memory/.test(w));
    assert.ok(fallbacks.length >= 1, `no fallback warning among: ${result.warnings.join(' | ')}`);
    assert.ok(fallbacks.every((w) => w.includes('shm_size')), 'the warning says what to change');

    const [a, b] = await Promise.all([fingerprintDatabase(sourceServer, source, ARCHON_TABLES), fingerprintDatabase(targetServer, target, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
    const hnsw = await ownerSql(targetServer, target,
      `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
        WHERE i.indrelid = 'archon_crawled_pages'::regclass AND am.amname = 'hnsw'`);
    assert.ok(hnsw.length >= 1 && hnsw.every((i) => i.indisvalid === true), `HNSW indexes after the sync: ${JSON.stringify(hnsw)}`);
  });

test('an HNSW graph that outgrows --maintenance-work-mem is reported with the flag to raise, and the copy is exact', async () => {
  const { source: sourceServer, target: targetServer } = servers!;
  // About 8,000 1536-d embeddings: an HNSW graph of some 55 MB (7 kB a row), while ivfflat's k-means sample,
  // capped in rows, needs about 41 MB.
  const [source, target] = await Promise.all([filledDatabase(sourceServer, 13, 0.2), filledDatabase(targetServer, undefined)]);
  const result = await sync({ ...UNGUARDED, source: sourceServer.ownerUri(source), target: targetServer.ownerUri(target), maintenanceWorkMem: '48MB' });
  const outgrown = result.warnings.filter((w) => w.includes('no longer fits into maintenance_work_mem'));
  assert.ok(outgrown.some((w) => w.startsWith('idx_archon_crawled_pages_embedding_1536')), `no such warning among: ${result.warnings.join(' | ')}`);
  // The library names its own option; the CLI words it as --maintenance-work-mem (test/unit/wording.test.ts).
  assert.ok(outgrown.every((w) => w.includes('maintenanceWorkMem (now 48MB)')));
  const [a, b] = await Promise.all([fingerprintDatabase(sourceServer, source, ARCHON_TABLES), fingerprintDatabase(targetServer, target, ARCHON_TABLES)]);
  assert.deepEqual(b, a);
});

test('too little --maintenance-work-mem for an ivfflat build fails in one line that names the flag, target unchanged', async () => {
  const { source: sourceServer, target: targetServer } = servers!;
  const [source, target] = await Promise.all([filledDatabase(sourceServer, 14), filledDatabase(targetServer, 15)]);
  const before = await fingerprintDatabase(targetServer, target);
  await assert.rejects(sync({ ...UNGUARDED, source: sourceServer.ownerUri(source), target: targetServer.ownerUri(target), maintenanceWorkMem: '1MB' }), (error: unknown) => {
    assert.ok(error instanceof CopyError, `expected CopyError, got ${String(error)}`);
    assert.match(error.message, /memory required is \d+ MB, maintenance_work_mem is 1 MB; raise maintenanceWorkMem above the memory required; the target was rolled back$/);
    assert.ok(!error.message.includes('\n'));
    return true;
  });
  assert.deepEqual(await fingerprintDatabase(targetServer, target), before);
});
