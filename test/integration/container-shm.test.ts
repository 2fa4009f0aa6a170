// A local Supabase in Docker has a 64 MB /dev/shm unless its compose file says otherwise; a parallel HNSW build
// with the default --maintenance-work-mem needs more. Syncing into it must still succeed, exactly.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ARCHON_TABLES, sync } from '../../src/index.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';

const isRoot = process.getuid?.() === 0;
const SCALE = 0.05;

let servers: TestServers | undefined;

before(async () => {
  // The planner gives an index build workers only past min_parallel_table_scan_size of main heap (vectors and
  // text are TOASTed, so a test-sized table stays below the 8 MB default where a real one is far above it).
  if (isRoot) servers = await testServers({ target: { sharedMemoryMb: 64, settings: { min_parallel_table_scan_size: '64kB' } } });
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

    const result = await sync({ source: sourceServer.ownerUri(source), target: targetServer.ownerUri(target) });
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
