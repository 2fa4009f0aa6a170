// The backup flags and words on the command line: where backups go, sizes as people write them, advice naming flags.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupDirFromEnv, parseSize } from '../../src/cli/backup-flags.js';
import { wordPhrase } from '../../src/advice.js';
import { cannotKeepPhrase } from '../../src/engine/backup/run-backup.js';
import { backupLine } from '../../src/cli/safety-lines.js';
import { historyTable } from '../../src/cli/tables.js';
import { undoneLine } from '../../src/cli/undo-command.js';
import { cliWording } from '../../src/cli/wording.js';

test('backups go under $XDG_STATE_HOME when it is an absolute path, else under ~/.local/state', () => {
  assert.equal(backupDirFromEnv({ XDG_STATE_HOME: '/var/state' }, '/home/me'), '/var/state/archon-sync/backups');
  assert.equal(backupDirFromEnv({ XDG_STATE_HOME: 'relative/state' }, '/home/me'), '/home/me/.local/state/archon-sync/backups');
  assert.equal(backupDirFromEnv({}, '/home/me'), '/home/me/.local/state/archon-sync/backups');
});

test('sizes read as PostgreSQL writes them, in units of 1024, and anything else is refused naming the flag', () => {
  assert.deepEqual(['4096', '1kB', '500MB', '2GB', '1.5 GiB', '1t'].map((s) => parseSize(s, '--backup-limit')),
    [4096, 1024, 500 * 1024 ** 2, 2 * 1024 ** 3, 1.5 * 1024 ** 3, 1024 ** 4]);
  for (const bad of ['', 'lots', '-1GB', '2 parsecs']) assert.throws(() => parseSize(bad, '--backup-limit'), /--backup-limit must be a size such as 500MB/);
});

test('advice about backups names the flags a command-line user has', () => {
  const estimate = { bytes: 2 * 1024 ** 3, limitBytes: 1024 ** 3 } as Parameters<typeof cannotKeepPhrase>[2];
  assert.equal(
    wordPhrase(cannotKeepPhrase('it takes about 2.0 GB, over the backup limit of 1.0 GB', 'size', estimate), cliWording()),
    'cannot keep the old rows of this run for undo: it takes about 2.0 GB, over the backup limit of 1.0 GB; nothing was changed: raise --backup-limit, or turn backups off for this run (--no-backup)',
  );
  assert.equal(cliWording().option('force'), '--force');
});

test('the summary says how to undo a run, or why it cannot be; an undo says what it put back', () => {
  assert.equal(backupLine({ kept: true, syncId: 'sync_20260101_000000', dir: '/b/db/sync_20260101_000000', bytes: 3 * 1024 ** 2, tables: 2, seconds: 0.4 }, cliWording()),
    'undo with `archon-sync undo sync_20260101_000000`: 3.0 MB of old rows from 2 tables kept in /b/db/sync_20260101_000000');
  assert.equal(backupLine({ kept: false, reason: 'backups are turned off' }, cliWording()), 'not undoable: backups are turned off');
  assert.equal(undoneLine({
    syncId: 'undo_20260102_000000', undid: 'sync_20260101_000000', sequences: 2, overridden: [], triggerSuppression: 'replica-role', seconds: 1.25, warnings: [],
    tables: [{ table: 'archon_settings', restore: 'all', deleted: 5, restored: 4, rows: 4 }, { table: 'archon_sources', restore: 'keys', deleted: 1, restored: 1, rows: 3 }],
  }), 'undone sync_20260101_000000 (recorded as undo_20260102_000000): 2 tables put back as they were, 5 old rows restored, 2 sequences reset, in 1.3 s');
});

test('history marks the runs this machine can undo, and those already undone', () => {
  const row = { direction: 'local-to-remote', status: 'completed', started_at: new Date('2026-01-01T00:00:00Z'), duration_seconds: 3, synced_rows: 10, triggered_by: 'cron', error_message: null };
  const text = historyTable([
    { ...row, sync_id: 'sync_a', undoable: true, undoneBy: null },
    { ...row, sync_id: 'sync_b', undoable: false, undoneBy: 'undo_c' },
    { ...row, sync_id: 'sync_d', undoable: false, undoneBy: null },
  ], false);
  assert.match(text, /sync_a.*│ yes/);
  assert.match(text, /sync_b.*│ undone \(undo_c\)/);
  assert.doesNotMatch(text.split('\n').find((l: string) => l.includes('sync_d')) ?? '', /yes|undone/);
});
