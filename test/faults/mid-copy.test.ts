// Faults in the middle of a copy: killed backends, stopped servers, a dropped pooler, signals, a full disk.
// Every one must leave the target exactly as it was, say why in one line, and let the next run succeed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jsonLines, runCli } from '../support/cli.js';
import { chownToPostgres, OWNER_ROLE } from '../support/cluster.js';
import { startPgBouncer } from '../support/pgbouncer.js';
import type { TestServers } from '../support/servers.js';
import { rowsIntoShadowTable, tamperWith } from '../support/tamper-proxy.js';
import { assertFailure, assertNothingLeft, faultDatabases, historyRows, runDuringCopy, snapshot, syncArgs } from './contract.js';

let servers: TestServers;
let local: string;
let remote: string;
let env: Record<string, string>;

before(async () => {
  ({ servers, local, remote, env } = await faultDatabases(101, 202));
});
after(async () => { await servers?.close(); });

const target = () => servers.target;

async function expectNextRunSucceeds(): Promise<void> {
  const result = await runCli(syncArgs(), { env });
  assert.equal(result.code, 0, `the run after the fault failed: ${result.stderr}`);
  await assertNothingLeft(target(), remote);
  // Put the target back to "other data" so the next scenario starts from a state a sync changes.
  await target().admin(remote, (client) => client.query(`UPDATE archon_settings SET value = 'changed after run' WHERE key = (SELECT min(key) FROM archon_settings)`));
}

describe('faults mid-copy', () => {
  test('the target backend terminated during the biggest table: exit 3, target unchanged', async () => {
    const before = await snapshot(target(), remote);
    const result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, async (_child, pid) => {
      await target().admin('postgres', (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
    });
    await assertFailure(result, { code: 3, message: /archon_crawled_pages.*(terminat|connection)/i, target: { server: target(), database: remote, before }, history: 'failed' });
    await expectNextRunSucceeds();
  });

  test('the source server stops mid-copy: exit 3, target rolled back', async () => {
    const before = await snapshot(target(), remote);
    const cluster = servers.source.cluster;
    assert.ok(cluster, 'needs a harness-started source');
    try {
      const result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, () => { cluster.stop('immediate'); });
      await assertFailure(result, { code: 3, message: /connection|terminat/i, target: { server: target(), database: remote, before }, history: 'failed' });
    } finally {
      if (cluster.stopped) cluster.start();
    }
    await expectNextRunSucceeds();
  });

  test('the target server stops mid-copy and comes back: target as before after recovery', async () => {
    const before = await snapshot(target(), remote);
    const cluster = servers.target.cluster;
    assert.ok(cluster, 'needs a harness-started target');
    let result;
    try {
      result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, () => { cluster.stop('immediate'); });
    } finally {
      if (cluster.stopped) cluster.start();
    }
    // The history row could not be finished while the server was down; the next run marks it failed.
    await assertFailure(result, { code: 3, message: /connection|terminat|shut/i, target: { server: target(), database: remote, before } });
    const stale = (await historyRows(target(), remote)).at(-1);
    assert.equal(stale?.status, 'running');
    await expectNextRunSucceeds();
    const healed = (await historyRows(target(), remote)).find((row) => row.sync_id === stale?.sync_id);
    assert.equal(healed?.status, 'failed');
    assert.match(String(healed?.error_message), /ended without recording/);
  });

  test('the connection through PgBouncer (transaction mode) drops mid-copy: exit 3, target unchanged', async () => {
    const cluster = servers.target.cluster;
    assert.ok(cluster);
    const bouncer = await startPgBouncer(cluster, 'transaction');
    try {
      const before = await snapshot(target(), remote);
      const result = await runDuringCopy(syncArgs(), { env: { ...env, REMOTE_DATABASE_URI: bouncer.uri(remote) }, server: target(), database: remote },
        async () => { await bouncer.kill(); });
      await assertFailure(result, { code: 3, message: /connection|terminat|lost/i, target: { server: target(), database: remote, before } });
    } finally {
      await bouncer.stop();
    }
    await expectNextRunSucceeds();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} mid-copy: exit 5, history cancelled, target unchanged`, async () => {
      const before = await snapshot(target(), remote);
      const started = Date.now();
      let signalledAt = 0;
      const result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, (child) => {
        signalledAt = Date.now();
        child.kill(signal);
      });
      await assertFailure(result, { code: 5, message: /cancelled; the target was rolled back/, target: { server: target(), database: remote, before }, history: 'cancelled' });
      assert.ok(Date.now() - signalledAt < 10_000, `took ${Date.now() - signalledAt} ms to stop after ${signal} (run began ${Date.now() - started} ms ago)`);
      // What the run says on receiving it names the way to send it again: Ctrl-C only for SIGINT.
      const said = jsonLines(result.stdout).find((l) => l.event === 'info' && String(l.msg).startsWith(`received ${signal}`));
      assert.ok(said, `no line about ${signal}: ${result.stdout.slice(-400)}`);
      if (signal === 'SIGINT') assert.match(String(said.msg), /press Ctrl-C again/);
      else assert.doesNotMatch(String(said.msg), /Ctrl-C/);
      await expectNextRunSucceeds();
    });
  }

  test('a second SIGINT exits at once, and the server still rolls the target back', async () => {
    const before = await snapshot(target(), remote);
    const result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, (child) => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGINT'), 20);
    });
    assert.equal(result.code, 5);
    assert.deepEqual(await snapshot(target(), remote), before);
    await assertNothingLeft(target(), remote);
    await expectNextRunSucceeds();
  });

  test('the sidecar connections killed mid-run: the copy completes and its history row says so', async () => {
    const result = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, async () => {
      for (const [server, database] of [[target(), remote], [servers.source, local]] as const) {
        await server.admin('postgres', (client) => client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'archon-sync-sidecar' AND datname = $1`, [database]));
      }
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await historyRows(target(), remote)).at(-1)?.status, 'completed');
    const [a, b] = await Promise.all([snapshot(servers.source, local), snapshot(target(), remote)]);
    for (const table of Object.keys(a).filter((t) => !['archon_sprints', 'archon_workflow_stages', 'archon_project_hierarchy'].includes(t))) {
      assert.deepEqual(b[table], a[table], table);
    }
    await assertNothingLeft(target(), remote);
    await target().admin(remote, (client) => client.query(`UPDATE archon_settings SET value = 'changed' WHERE key = (SELECT min(key) FROM archon_settings)`));
  });

  test('a second run while one is running is refused at once, naming the running sync id; the first completes', async () => {
    let second: Awaited<ReturnType<typeof runCli>> | undefined;
    const first = await runDuringCopy(syncArgs(), { env, server: target(), database: remote }, async () => {
      second = await runCli(syncArgs(), { env });
    });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(second);
    assert.equal(second.code, 3, second.stderr);
    const firstId = (await historyRows(target(), remote)).filter((r) => r.status === 'completed').at(-1)?.sync_id;
    assert.match(second.stderr, new RegExp(`another archon-sync run \\(${String(firstId)}, pid \\d+, since [^)]+\\) is writing to this target`));
    await assertNothingLeft(target(), remote);
    await target().admin(remote, (client) => client.query(`UPDATE archon_settings SET value = 'changed' WHERE key = (SELECT min(key) FROM archon_settings)`));
  });

  test('a verification mismatch before commit (rows loaded into the wrong table in transit): exit 4, rolled back, history failed', async () => {
    await target().asOwner(remote, (client) => client.query('CREATE TABLE IF NOT EXISTS archon_prompt2 (LIKE archon_prompts)'));
    const before = await snapshot(target(), remote);
    const { proxy, uri } = await tamperWith(env.REMOTE_DATABASE_URI ?? '', rowsIntoShadowTable('archon_prompts', 'archon_prompt2'));
    try {
      const result = await runCli(syncArgs(), { env: { ...env, REMOTE_DATABASE_URI: uri } });
      assert.ok(proxy.replaced > 0, 'the fault was injected');
      await assertFailure(result, { code: 4, message: /row counts differ/, target: { server: target(), database: remote, before }, history: 'failed' });
    } finally {
      await proxy.close();
    }
    await expectNextRunSucceeds();
  });

  test('the target disk fills (a tablespace on a tiny tmpfs): exit 3, rolled back', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('mounting a tmpfs needs root');
      return;
    }
    const mountPoint = join(tmpdir(), `archon-sync-tiny-${process.pid}`);
    mkdirSync(mountPoint, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4M', 'tmpfs', mountPoint]);
    assert.equal(mounted.status, 0, `mount failed: ${String(mounted.stderr)}`);
    try {
      chownToPostgres(mountPoint);
      await target().admin(remote, async (client) => {
        await client.query(`CREATE TABLESPACE tiny LOCATION '${mountPoint}'`);
        await client.query(`GRANT CREATE ON TABLESPACE tiny TO ${OWNER_ROLE}`);
      });
      // Empty first, so that moving the table fits; loading the source's rows then cannot.
      await target().asOwner(remote, (client) => client.query('TRUNCATE archon_crawled_pages; ALTER TABLE archon_crawled_pages SET TABLESPACE tiny'));
      const before = await snapshot(target(), remote);
      const result = await runCli(syncArgs(), { env });
      await assertFailure(result, { code: 3, message: /out of disk space|No space left/i, target: { server: target(), database: remote, before }, history: 'failed' });
    } finally {
      await target().asOwner(remote, (client) => client.query('ALTER TABLE archon_crawled_pages SET TABLESPACE pg_default')).catch(() => undefined);
      await target().admin(remote, (client) => client.query('DROP TABLESPACE IF EXISTS tiny')).catch(() => undefined);
      spawnSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
    await expectNextRunSucceeds();
  });
});
