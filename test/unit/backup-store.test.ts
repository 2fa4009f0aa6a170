// The local backup store and its estimate: keys that name a database without its URI, run directories that never
// collide, retention, manifests written whole, and the size verdict plan() and sync() share.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { estimateBackup, formatBytes } from '../../src/engine/backup/estimate.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, parseManifest, type BackupManifest } from '../../src/engine/backup/manifest.js';
import { BackupStore, targetKey } from '../../src/engine/backup/store.js';

const made: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
after(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

const parts = { system: '7714498431969173179', database: '16384', name: 'postgres', label: 'db.example.com:5432/postgres' };

function manifest(syncId: string, createdAt: string): BackupManifest {
  return {
    format: MANIFEST_FORMAT, version: MANIFEST_VERSION, syncId, state: 'committed', createdAt, source: 'a:1/x',
    target: { label: 'b:2/y', name: 'y', system: '1', timeline: 1, database: '5' }, run: { xid: '700', snapshot: '700:700:' },
    schema: 'public', tables: [], sequences: [], bytes: 0,
  };
}

test('a target key names the database and hashes who it is, never its host or URI; another cluster or database is another key', () => {
  const key = targetKey(parts);
  assert.match(key, /^postgres-[0-9a-f]{16}$/);
  assert.equal(targetKey({ ...parts, label: 'other-host:6543/postgres' }), key, 'the endpoint does not matter once the cluster is known');
  assert.notEqual(targetKey({ ...parts, system: '1' }), key);
  assert.notEqual(targetKey({ ...parts, database: '16385' }), key);
  assert.notEqual(targetKey({ ...parts, system: null }), key);
  assert.match(targetKey({ ...parts, name: 'my db/../x' }), /^my_db_.._x-[0-9a-f]{16}$/);
});

test('run directories never collide, refuse ids that are not plain names, and retention keeps the newest sealed ones', async () => {
  const store = new BackupStore(join(scratch('archon-sync-store-'), 'nested', 'backups'));
  const first = await store.createRun('db-1', 'sync_20260101_000000');
  const second = await store.createRun('db-1', 'sync_20260101_000000');
  assert.deepEqual([first.syncId, second.syncId], ['sync_20260101_000000', 'sync_20260101_000000_2']);
  await assert.rejects(store.createRun('db-1', '../escape'), /a sync id must be/);
  await store.writeManifest(first.dir, manifest(first.syncId, '2026-01-01T00:00:00.000Z'));
  await store.writeManifest(second.dir, manifest(second.syncId, '2026-01-02T00:00:00.000Z'));
  const third = await store.createRun('db-1', 'sync_20260103_000000');
  await store.writeManifest(third.dir, manifest(third.syncId, '2026-01-03T00:00:00.000Z'));
  const partial = await store.createRun('db-1', 'sync_20260104_000000');
  assert.deepEqual(readdirSync(first.dir), ['manifest.json'], 'a manifest is written whole, no temporary file left');

  assert.deepEqual(await store.prune('db-1', { keep: 2, partial: false }), ['sync_20260101_000000']);
  assert.ok(existsSync(partial.dir), 'a run still writing its backup is left alone');
  assert.deepEqual(await store.prune('db-1', { partial: true }), ['sync_20260104_000000']);
  assert.deepEqual((await store.list('db-1')).map((b) => b.syncId), ['sync_20260101_000000_2', 'sync_20260103_000000']);
  assert.deepEqual((await store.find('sync_20260103_000000')).map((b) => [b.key, b.manifest?.state]), [['db-1', 'committed']]);
  assert.deepEqual(await store.find('../db-1'), []);
  assert.deepEqual(await new BackupStore(join(tmpdir(), 'archon-sync-no-such-dir')).list('db-1'), []);
});

test('a manifest of another format or version is not read as one', () => {
  const good = manifest('sync_1', '2026-01-01T00:00:00.000Z');
  assert.equal(parseManifest(JSON.stringify(good))?.syncId, 'sync_1');
  assert.equal(parseManifest(JSON.stringify({ ...good, version: 2 })), undefined);
  assert.equal(parseManifest(JSON.stringify({ ...good, format: 'other' })), undefined);
  assert.equal(parseManifest(JSON.stringify({ ...good, run: {} })), undefined);
  assert.equal(parseManifest('{ not json'), undefined);
});

test('an unreadable manifest still counts as sealed: it is kept, never taken for a dead run\'s leftovers', async () => {
  const store = new BackupStore(scratch('archon-sync-store-'));
  const run = await store.createRun('db-2', 'sync_20260101_000000');
  writeFileSync(join(run.dir, 'manifest.json'), JSON.stringify({ format: MANIFEST_FORMAT, version: 99 }));
  assert.deepEqual(await store.prune('db-2', { partial: true }), []);
  const [listed] = await store.list('db-2');
  assert.deepEqual([listed?.sealed, listed?.manifest], [true, undefined]);
});

test('the estimate keeps a whole table copied in full and the changed share of an incremental one, and says what stops it', async () => {
  const dir = scratch('archon-sync-estimate-');
  mkdirSync(join(dir, 'x'));
  const weights = [
    { table: 'archon_crawled_pages', mode: 'full' as const, targetBytes: 10 * 1024 ** 2, targetRows: 1000, replacedRows: 0 },
    { table: 'archon_sources', mode: 'incremental' as const, targetBytes: 1024 ** 2, targetRows: 1000, replacedRows: 10 },
  ];
  const fits = await estimateBackup(weights, { dir: join(dir, 'not', 'yet', 'there'), limitBytes: 1024 ** 3 }, false);
  assert.equal(fits.fits, true);
  assert.deepEqual(fits.tables.map((t) => t.bytes), [10 * 1024 ** 2, Math.ceil(1024 ** 2 / 100) + 10 * 40]);
  assert.ok(fits.freeBytes > 0, 'free space is read from the nearest existing parent');
  const over = await estimateBackup(weights, { dir, limitBytes: 1024 ** 2 }, true);
  assert.equal(over.fits, false);
  assert.equal(over.reason, 'keeping the old rows this run deletes or overwrites takes up to 10.0 MB, over the backup limit of 1.0 MB');
  assert.deepEqual([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(3 * 1024 ** 3)], ['0 B', '1023 B', '1.5 kB', '3.0 GB']);
});
