// A server lost or stalled at any phase: the run ends within a bounded time, leaves the target (sequences
// included) exactly as it was, says which side and phase in one line, and leaves nothing behind.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from '../support/cluster.js';
import { serverProcesses, signalAll } from '../support/processes.js';
import type { TestServer, TestServers } from '../support/servers.js';
import { assertFailure, assertNothingLeft, faultDatabases, runDuringCopy, runWhenSeen, snapshot, syncArgs, type Fingerprints } from './contract.js';

// Short, so the tests are quick; the default (60 s) is for real links.
const STALL_ARGS = ['--stall-timeout=3'];
// A stalled run must end within the stall timeout plus the time to let go of both sides, however it is stuck.
const BOUND_MS = 25_000;

let servers: TestServers;
let local: string;
let remote: string;
let env: Record<string, string>;

before(async () => {
  ({ servers, local, remote, env } = await faultDatabases(301, 302));
  // The target holds rows the source does not, with ids far past the source's: a sequence set by a failed run
  // and not put back would hand out ids that collide with these.
  await servers.target.asOwner(remote, async (client) => {
    await client.query('UPDATE archon_crawled_pages SET id = id + 20000');
    await client.query(`SELECT setval('archon_crawled_pages_id_seq', (SELECT max(id) FROM archon_crawled_pages))`);
  });
});
after(async () => { await servers?.close(); });

interface SequenceState { last_value: string; is_called: boolean }

async function sequences(server: TestServer, database: string): Promise<SequenceState[]> {
  return server.admin(database, async (client) => (await client.query<SequenceState>(
    `SELECT last_value::text, is_called FROM archon_crawled_pages_id_seq
     UNION ALL SELECT last_value::text, is_called FROM archon_code_examples_id_seq
     UNION ALL SELECT last_value::text, is_called FROM archon_llm_pricing_id_seq`)).rows);
}

async function targetState(): Promise<{ rows: Fingerprints; sequences: SequenceState[] }> {
  return { rows: await snapshot(servers.target, remote), sequences: await sequences(servers.target, remote) };
}

function cluster(side: 'source' | 'target'): Cluster {
  const found = servers[side].cluster;
  assert.ok(found, 'needs harness-started servers');
  return found;
}

describe('a server lost during checksum verification', () => {
  for (const side of ['source', 'target'] as const) {
    test(`the ${side} backend terminated while archon_crawled_pages is compared: exit 3 at once, sequences and rows as before`, async () => {
      const before = await targetState();
      const server = servers[side];
      const started = Date.now();
      const result = await runWhenSeen(syncArgs('--verify=checksum'), {
        env, server, database: side === 'source' ? local : remote,
        queryLike: '%md5%"archon_crawled_pages"%', activeOnly: false,
      }, async (_child, pid) => {
        await server.admin('postgres', (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
      });
      assert.ok(Date.now() - started < 60_000 + BOUND_MS, 'the run ended');
      await assertFailure(result, { code: 3, message: /verification.*archon_crawled_pages.*(terminat|connection)/i, target: { server: servers.target, database: remote, before: before.rows }, history: 'failed' });
      assert.deepEqual(await sequences(servers.target, remote), before.sequences, 'a sequence moved although nothing was committed');
      await assertNothingLeft(servers.source, local);
    });
  }
});

describe('a server lost while an incremental run compares or applies', () => {
  for (const [when, queryLike] of [['comparing digests', 'COPY pg_temp.%archon_sync_stage%FROM STDIN%'], ['applying changed rows', 'COPY "public"."archon_crawled_pages"%FROM STDIN%']] as const) {
    test(`the target backend terminated while ${when}: exit 3, rows and sequences as before, nothing left`, async () => {
      const before = await targetState();
      const result = await runWhenSeen(syncArgs('--mode=incremental'), { env, server: servers.target, database: remote, queryLike }, async (_child, pid) => {
        await servers.target.admin('postgres', (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
      });
      await assertFailure(result, { code: 3, message: /(comparison|copy) for public\.archon_\w+ failed: .*(terminat|connection)/i, target: { server: servers.target, database: remote, before: before.rows }, history: 'failed' });
      assert.deepEqual(await sequences(servers.target, remote), before.sequences);
      await assertNothingLeft(servers.source, local);
    });
  }
});

describe('a stalled server', () => {
  test('the source backend stopped (SIGSTOP) mid-copy: exit 3 after --stall-timeout naming the source, target as before', async () => {
    const before = await targetState();
    let frozen = 0;
    let frozenAt = 0;
    try {
      const result = await runWhenSeen(syncArgs(...STALL_ARGS), {
        env, server: servers.source, database: local, queryLike: 'COPY "public"."archon_crawled_pages"%TO STDOUT%',
      }, (_child, pid) => {
        frozen = pid;
        frozenAt = Date.now();
        process.kill(pid, 'SIGSTOP');
      });
      assert.ok(Date.now() - frozenAt < BOUND_MS, `took ${Date.now() - frozenAt} ms after the stall`);
      await assertFailure(result, { code: 3, message: /copy of public\.archon_crawled_pages failed: the source stopped sending data for \d+ s \(--stall-timeout\)/, target: { server: servers.target, database: remote, before: before.rows }, history: 'failed' });
      assert.deepEqual(await sequences(servers.target, remote), before.sequences);
    } finally {
      if (frozen) process.kill(frozen, 'SIGCONT');
    }
    // Once it runs again it finds its client gone (and was asked to terminate): nothing of ours stays.
    await assertNothingLeft(servers.source, local);
  });

  test('the target backend stopped (SIGSTOP) mid-copy: exit 3 naming the target, nothing left once it resumes', async () => {
    const before = await targetState();
    let frozen = 0;
    let result;
    try {
      const frozenAt = { at: 0 };
      result = await runDuringCopy(syncArgs(...STALL_ARGS), { env, server: servers.target, database: remote }, (_child, pid) => {
        frozen = pid;
        frozenAt.at = Date.now();
        process.kill(pid, 'SIGSTOP');
      });
      assert.ok(Date.now() - frozenAt.at < BOUND_MS, `took ${Date.now() - frozenAt.at} ms after the stall`);
    } finally {
      if (frozen) process.kill(frozen, 'SIGCONT');
    }
    await assertFailure(result, { code: 3, message: /copy of public\.archon_crawled_pages failed: the target stopped reading data/, target: { server: servers.target, database: remote, before: before.rows }, history: 'failed' });
    assert.deepEqual(await sequences(servers.target, remote), before.sequences);
  });

  test('SIGTERM while the source backend is frozen mid-copy (no stall timeout yet): exit 5 within seconds, history cancelled', async () => {
    const before = await targetState();
    let frozen = 0;
    let signalledAt = 0;
    try {
      const result = await runWhenSeen(syncArgs(), {
        env, server: servers.source, database: local, queryLike: 'COPY "public"."archon_crawled_pages"%TO STDOUT%',
      }, (child, pid) => {
        frozen = pid;
        process.kill(pid, 'SIGSTOP');
        signalledAt = Date.now();
        child.kill('SIGTERM');
      });
      assert.ok(Date.now() - signalledAt < BOUND_MS, `took ${Date.now() - signalledAt} ms after SIGTERM`);
      await assertFailure(result, { code: 5, message: /cancelled; the target was rolled back/, target: { server: servers.target, database: remote, before: before.rows }, history: 'cancelled' });
    } finally {
      if (frozen) process.kill(frozen, 'SIGCONT');
    }
    await assertNothingLeft(servers.source, local);
  });

  test('the whole target server frozen while indexes rebuild: exit 3 naming the target, nothing left once it resumes', async () => {
    const before = await targetState();
    let frozen: number[] = [];
    let result;
    try {
      const frozenAt = { at: 0 };
      result = await runWhenSeen(syncArgs(...STALL_ARGS), { env, server: servers.target, database: remote, queryLike: '%CREATE INDEX%' }, () => {
        frozen = serverProcesses(cluster('target'));
        frozenAt.at = Date.now();
        signalAll(frozen, 'SIGSTOP');
      });
      assert.ok(Date.now() - frozenAt.at < BOUND_MS, `took ${Date.now() - frozenAt.at} ms after the stall`);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
    // The history connection froze with the server: the row is settled by the next run, not by this one.
    await assertFailure(result, { code: 3, message: /index rebuild.*failed: the target stopped answering for \d+ s/, target: { server: servers.target, database: remote, before: before.rows } });
    assert.deepEqual(await sequences(servers.target, remote), before.sequences);
  });
});
