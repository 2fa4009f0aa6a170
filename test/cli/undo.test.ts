// Undo from the command line: `archon-sync undo <id>`, the `history` column, the cron refusal, --no-backup, retention,
// and a process killed at COMMIT: a committed run always has its backup, one that did not commit never leaves an
// undoable one.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { errorLine, jsonLines, runCli, type CliResult } from '../support/cli.js';
import { ALL_TABLES, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { side, type Side } from '../support/sides.js';
import { TEST_HOME } from '../support/state-home.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

interface Pair { local: Side; remote: Side; env: Record<string, string>; dir: string }

/** A local database to copy from and a remote one holding other data, a column of its own and an outside table's rows. */
async function pair(localSeed: number, remoteSeed: number): Promise<Pair> {
  const [local, remote] = await Promise.all([side(servers.source, localSeed, 'local'), side(servers.target, remoteSeed, 'remote')]);
  await ownerSql(remote.server, remote.database, `
    ALTER TABLE archon_settings ADD COLUMN note text DEFAULT 'default note';
    UPDATE archon_settings SET note = 'kept: ' || key`);
  return { local, remote, env: { LOCAL_DATABASE_URI: local.uri, REMOTE_DATABASE_URI: remote.uri }, dir: mkdtempSync(join(TEST_HOME, 'backups-')) };
}

/** Every non-generated column of the 17 tables and the outside ones, and where every sequence stands. */
async function state(s: Side) {
  const [tables, sequences] = await Promise.all([
    fingerprintDatabase(s.server, s.database, ALL_TABLES),
    s.server.admin(s.database, async (c) => (await c.query<{ relname: string; last: string | null }>(
      `SELECT relname, pg_sequence_last_value(oid)::text AS last FROM pg_class WHERE relkind = 'S' ORDER BY relname`)).rows),
  ]);
  return { tables, sequences };
}

/** The run copied the source: every table but archon_settings, whose column of the target's own keeps its default. */
async function assertCopied(p: Pair): Promise<void> {
  const tables = ARCHON_TABLES.filter((t) => t !== 'archon_settings');
  const [local, remote] = await Promise.all([fingerprintDatabase(p.local.server, p.local.database, tables), fingerprintDatabase(p.remote.server, p.remote.database, tables)]);
  assert.deepEqual(remote, local);
}

function sync(p: Pair, ...flags: string[]): Promise<CliResult> {
  return runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json', `--backup-dir=${p.dir}`, ...flags], { env: p.env });
}

function completed(result: CliResult): { syncId: string; backup: { kept: boolean; syncId?: string; reason?: string } } {
  assert.equal(result.code, 0, result.stderr);
  const line = jsonLines(result.stdout).find((l) => l.event === 'completed');
  assert.ok(line, `no completed line in ${result.stdout.slice(-500)}`);
  return line as unknown as { syncId: string; backup: { kept: boolean; syncId?: string } };
}

/** The sealed backups in a backup directory: run directory → manifest. */
function manifests(dir: string): Map<string, { syncId: string; state: string }> {
  const found = new Map<string, { syncId: string; state: string }>();
  if (!existsSync(dir)) return found;
  for (const key of readdirSync(dir)) {
    for (const run of readdirSync(join(dir, key))) {
      const file = join(dir, key, run, 'manifest.json');
      if (existsSync(file)) found.set(join(dir, key, run), JSON.parse(readFileSync(file, 'utf8')) as { syncId: string; state: string });
    }
  }
  return found;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Until the killed run's own connections to the database are gone (the server has rolled back or committed for it). */
async function runGone(s: Side): Promise<void> {
  await waitFor('the killed run\'s backends to end', async () => (await s.server.admin('postgres', (c) => c.query(
    `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'archon-sync%'`, [s.database]))).rowCount === 0);
}

/** Kills the CLI when `moment` comes; what the kill interrupted is the test's to judge. */
function killWhen(moment: () => Promise<boolean> | boolean, onError: (error: unknown) => void) {
  return (child: ChildProcess) => {
    waitFor('the moment to kill the run', moment).then(() => child.kill('SIGKILL'), (error: unknown) => { onError(error); child.kill('SIGKILL'); });
  };
}

describe('archon-sync undo', () => {
  test('puts back what a CLI run replaced, and `history` shows which runs can be undone and which were', async () => {
    const p = await pair(81, 82);
    const before = await state(p.remote);
    const run = completed(await sync(p));
    assert.equal(run.backup.kept, true, JSON.stringify(run.backup));
    assert.equal(run.backup.syncId, run.syncId);
    await assertCopied(p);

    const listed = await runCli(['history', '--json', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { sync_id: string; undoable: boolean; undoneBy: string | null }[];
    assert.deepEqual(rows.map((r) => [r.sync_id, r.undoable]), [[run.syncId, true]]);

    const undone = await runCli(['undo', run.syncId, '--skip-confirm', '--log-format=pretty', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(undone.code, 0, undone.stderr);
    assert.match(undone.stdout, new RegExp(`undone ${run.syncId} \\(recorded as undo_\\d{8}_\\d{6}\\): 17 tables put back as they were`));
    assert.deepEqual(await state(p.remote), before);

    const table = await runCli(['history', '--log-format=pretty', `--backup-dir=${p.dir}`], { env: p.env });
    assert.match(table.stdout, new RegExp(`${run.syncId}.*undone \\(undo_\\d{8}_\\d{6}\\)`));
    const again = await runCli(['undo', run.syncId, '--skip-confirm', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(again.code, 3);
    assert.match(errorLine(again), /already undone by undo_\d{8}_\d{6}; nothing was changed/);
  });

  test('under cron a run that cannot keep its old rows refuses in one line; --no-backup goes on; the newest --keep-backups are kept', async () => {
    const p = await pair(83, 84);
    const before = await state(p.remote);
    const dryRun = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty', '--backup-limit=1kB', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /cannot keep the old rows of this run for undo: keeping the old rows this run deletes or overwrites takes about [\d.]+ (kB|MB), over the backup limit of 1\.0 kB \(--backup-limit\)/);
    const refused = await sync(p, '--backup-limit=1kB');
    assert.equal(refused.code, 3, refused.stderr);
    const line = errorLine(refused);
    assert.match(line, /cannot keep the old rows of this run for undo: .* over the backup limit of 1\.0 kB; nothing was changed: raise --backup-limit, or turn backups off for this run \(--no-backup\)/);
    assert.deepEqual(await state(p.remote), before);
    assert.equal(manifests(p.dir).size, 0);

    const unkept = completed(await sync(p, '--backup-limit=1kB', '--no-backup'));
    assert.equal(unkept.backup.kept, false);
    assert.equal(manifests(p.dir).size, 0, '--no-backup kept something');
    await assertCopied(p);

    const first = completed(await sync(p, '--keep-backups=1'));
    await ownerSql(p.local.server, p.local.database, `UPDATE archon_settings SET description = 'changed' WHERE key = (SELECT min(key) FROM archon_settings)`);
    const second = completed(await sync(p, '--keep-backups=1'));
    assert.deepEqual([...manifests(p.dir).values()].map((m) => m.syncId), [second.syncId], `${first.syncId} was not pruned`);
  });

  test('a run killed after keeping its old rows but before COMMIT changes nothing; the next run removes its void backup, and undo refuses it', async () => {
    const p = await pair(85, 86);
    const before = await state(p.remote);
    let failure: unknown;
    let held = false;
    const lock = await p.remote.server.owner(p.remote.database);
    try {
      // Once the run copies, its history row is held: the run's last message (the history facts, then COMMIT) waits
      // there, just after its backup was sealed, and is killed there. The row stays held until the killed run's
      // backend noticed its client is gone: released earlier, the COMMIT the server already received would go on.
      const killed = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json', `--backup-dir=${p.dir}`], {
        env: p.env,
        onSpawn: (child, output) => killWhen(async () => {
          if (!output.stdout().includes('"phase":"copy"')) return false;
          if (!held) {
            held = true;
            await lock.query(`BEGIN; SELECT 1 FROM archon_sync_history WHERE status = 'running' FOR UPDATE`);
          }
          return manifests(p.dir).size > 0;
        }, (error) => { failure = error; })(child),
      });
      assert.equal(failure, undefined);
      assert.equal(killed.signal, 'SIGKILL');
      await runGone(p.remote);
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end();
    }
    assert.deepEqual(await state(p.remote), before, 'the killed run committed');
    const [[dir, manifest]] = [...manifests(p.dir).entries()] as [[string, { syncId: string; state: string }]];
    assert.equal(manifest.state, 'sealed');

    // A run settles rows of dead runs only once they are 2 s old (settleAbandonedStatement): on a quick machine the
    // killed run can be younger than that.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    // The next run asks the server: that transaction rolled back, so its backup is void and goes.
    const next = completed(await sync(p));
    assert.equal(existsSync(dir), false, 'the void backup is still there');
    assert.deepEqual([...manifests(p.dir).values()].map((m) => m.syncId), [next.syncId]);
    const undo = await runCli(['undo', manifest.syncId, '--database=remote', '--skip-confirm', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(undo.code, 3, undo.stderr);
    assert.match(errorLine(undo), new RegExp(`${manifest.syncId} did not commit \\(failed: the run ended without recording its outcome`));
  });

  test('a run killed while its COMMIT is in flight, which then completes, has its backup, and undo puts the target back', async () => {
    const p = await pair(87, 88);
    const before = await state(p.remote);
    const admin = (sql: string) => p.remote.server.admin('postgres', (c) => c.query(sql));
    // A synchronous standby that never answers: COMMIT waits, committed locally, until the setting is cleared.
    await admin(`ALTER SYSTEM SET synchronous_standby_names = 'archon_sync_test_nobody'`);
    await admin(`ALTER SYSTEM SET synchronous_commit = 'on'`);
    await admin('SELECT pg_reload_conf()');
    let failure: unknown;
    try {
      const killed = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json', '--no-history', `--backup-dir=${p.dir}`], {
        env: p.env,
        onSpawn: killWhen(async () => (await admin(`SELECT 1 FROM pg_stat_activity WHERE datname = '${p.remote.database}' AND application_name = 'archon-sync' AND wait_event = 'SyncRep'`)).rowCount === 1,
          (error) => { failure = error; }),
      });
      assert.equal(failure, undefined);
      assert.equal(killed.signal, 'SIGKILL');
    } finally {
      await admin('ALTER SYSTEM RESET synchronous_standby_names');
      await admin('ALTER SYSTEM RESET synchronous_commit');
      await admin('SELECT pg_reload_conf()');
    }
    await runGone(p.remote);
    await assertCopied(p);
    const [manifest] = [...manifests(p.dir).values()];
    assert.equal(manifest?.state, 'sealed', 'the process died before it could note the COMMIT');

    // The run kept no history row to say which side it wrote to: its backup names the endpoint.
    const undo = await runCli(['undo', manifest.syncId, '--skip-confirm', `--backup-dir=${p.dir}`], { env: p.env });
    assert.equal(undo.code, 0, undo.stderr);
    assert.deepEqual(await state(p.remote), before);
    for (const table of ARCHON_TABLES) assert.ok(before.tables[table], table);
  });
});
