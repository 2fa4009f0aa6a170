// Bad configuration, unreachable servers, schemas that do not match, awkward data: the right exit code,
// one clear line, nothing written, and a following run that succeeds.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { OWNER_PASSWORD, OWNER_ROLE } from '../support/cluster.js';
import { filledDatabase } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { startSilentHost, type SilentHost } from '../support/silent-host.js';
import { assertFailure, assertNothingLeft, historyRows, snapshot, syncArgs } from './contract.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

async function pair(localSeed: number | undefined = 31, remoteSeed: number | undefined = 32, scale?: number) {
  const [local, remote] = await Promise.all([
    filledDatabase(servers.source, localSeed, scale, 'local'),
    filledDatabase(servers.target, remoteSeed, undefined, 'remote'),
  ]);
  return { local, remote, env: { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) } };
}

async function expectSuccess(env: Record<string, string>, extra: string[] = []): Promise<void> {
  const result = await runCli(syncArgs(...extra), { env });
  assert.equal(result.code, 0, `the following run failed: ${result.stderr}`);
}

describe('configuration and connection faults', () => {
  let silent: SilentHost;
  let silentPort = 0;
  before(async () => {
    silent = await startSilentHost();
    silentPort = silent.port;
  });
  after(() => { silent.close(); });

  test('bad arguments and missing configuration exit 1 with one line', async () => {
    const uris = { LOCAL_DATABASE_URI: `postgresql://${OWNER_ROLE}:${OWNER_PASSWORD}@127.0.0.1:1/a`, REMOTE_DATABASE_URI: `postgresql://${OWNER_ROLE}:${OWNER_PASSWORD}@127.0.0.1:2/b` };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--skip-confirm'], uris, /Missing required argument: direction/],
      [['--direction=local-to-cloud', '--skip-confirm'], uris, /Invalid values.*direction/],
      [['--direction=local-to-remote', '--skip-confirm', '--no-such-flag'], uris, /Unknown argument/],
      [['--direction=local-to-remote', '--skip-confirm'], {}, /LOCAL_DATABASE_URI and REMOTE_DATABASE_URI are not set/],
      [['--direction=local-to-remote', '--skip-confirm'], { LOCAL_DATABASE_URI: uris.LOCAL_DATABASE_URI }, /REMOTE_DATABASE_URI is not set/],
      [['--direction=local-to-remote', '--skip-confirm'], { ...uris, REMOTE_DATABASE_URI: `host=x password=${OWNER_PASSWORD}` }, /target database URI must start with postgresql:\/\//],
      [['--direction=local-to-remote', '--skip-confirm', '--env-file=/nonexistent/.env'], uris, /env file .* does not exist/],
      // A port the URL parser rejects gets a sentence, not its bare "Invalid URL".
      [['--direction=local-to-remote', '--skip-confirm'], { ...uris, REMOTE_DATABASE_URI: `postgresql://${OWNER_ROLE}:${OWNER_PASSWORD}@127.0.0.1:99999/b` },
        /^archon-sync: the target database URI has an invalid port "99999"; a port is a number from 1 to 65535/],
      [['--direction=local-to-remote', '--skip-confirm', '--lock-timeout=-1'], uris, /^archon-sync: --lock-timeout must be a number, 0 or more/],
    ];
    for (const [args, env, message] of cases) {
      await assertFailure(await runCli(args, { env }), { code: 1, message });
    }
  });

  test('wrong password, unknown database, refused port and a silent host exit 2, fast', async () => {
    const db = await pair(undefined, undefined);
    const cases: [string, RegExp, number][] = [
      [db.env.REMOTE_DATABASE_URI.replace(encodeURIComponent(OWNER_PASSWORD), 'Bad-pw-1'), /password authentication failed/, 10_000],
      [servers.target.ownerUri('missing_database'), /database "missing_database" does not exist/, 10_000],
      [`postgresql://${OWNER_ROLE}:${OWNER_PASSWORD}@127.0.0.1:1/x?sslmode=disable`, /connection refused/, 10_000],
      // The limit came from --connect-timeout, so the advice names that flag.
      [`postgresql://${OWNER_ROLE}:${OWNER_PASSWORD}@127.0.0.1:${silentPort}/x?sslmode=disable`, /no answer within 2 s; .*\(--connect-timeout changes the limit\)$/, 10_000],
    ];
    for (const [remote, message, withinMs] of cases) {
      const started = Date.now();
      const result = await runCli([...syncArgs(), '--connect-timeout=2'], { env: { ...db.env, REMOTE_DATABASE_URI: remote } });
      await assertFailure(result, { code: 2, message });
      assert.ok(Date.now() - started < withinMs, `took ${Date.now() - started} ms`);
    }
    await expectSuccess(db.env);
  });

  test('source equal to target is refused with exit 1, also when reached through another host name', async () => {
    const db = await pair(33, undefined);
    const before = await snapshot(servers.source, db.local);
    const same = db.env.LOCAL_DATABASE_URI.replace('127.0.0.1', 'localhost');
    const result = await runCli(syncArgs(), { env: { ...db.env, REMOTE_DATABASE_URI: same } });
    await assertFailure(result, { code: 1, message: /source and target are the same database/, target: { server: servers.source, database: db.local, before } });
  });
});

describe('schema and data faults', () => {
  const schemaCases: [string, string, RegExp][] = [
    ['lacks a table', 'DROP TABLE archon_prompts', /archon_prompts does not exist on the target/],
    ['lacks a column', 'ALTER TABLE archon_sources DROP COLUMN summary', /archon_sources\.summary \(text\) exists on the source but not on the target/],
    ['has another column type', 'ALTER TABLE archon_tasks ALTER COLUMN task_order TYPE bigint', /archon_tasks\.task_order is integer on the source but bigint on the target/],
    ['has vector(768) where the source has vector(1536)',
      'DROP INDEX idx_archon_crawled_pages_embedding_1536_hnsw; ALTER TABLE archon_crawled_pages ALTER COLUMN embedding_1536 TYPE vector(768) USING NULL',
      /archon_crawled_pages\.embedding_1536 is vector\(1536\) on the source but vector\(768\) on the target/],
  ];
  for (const [name, sql, message] of schemaCases) {
    test(`a target that ${name}: exit 3 before any write`, async () => {
      const db = await pair();
      await servers.target.asOwner(db.remote, (client) => client.query(sql));
      const before = await snapshot(servers.target, db.remote).catch(() => undefined);
      const result = await runCli(syncArgs(), { env: db.env });
      // Found by the plan, before any write to the tables; the run reached the target, so its row says why it stopped.
      if (before) await assertFailure(result, { code: 3, message, target: { server: servers.target, database: db.remote, before }, history: 'failed' });
      else await assertFailure(result, { code: 3, message });
    });
  }

  test('a target without the vector extension: exit 3 naming the extension', async () => {
    const db = await pair();
    const bare = `bare_${process.pid}`;
    await servers.target.admin('postgres', (client) => client.query(`CREATE DATABASE ${bare} OWNER ${OWNER_ROLE}`));
    const result = await runCli(syncArgs(), { env: { ...db.env, REMOTE_DATABASE_URI: servers.target.ownerUri(bare) } });
    await assertFailure(result, { code: 3, message: /target database has no "vector" extension; enable it there first/ });
  });

  test('rows outside the 17 that reference archon_projects survive when their projects are in the source, else exit 3 naming table and key', async () => {
    const db = await pair(34, 34);
    await servers.target.asOwner(db.remote, (client) => client.query(
      `INSERT INTO archon_sprints (project_id, name) SELECT id, 'sprint ' || title FROM archon_projects`));
    const readSprints = () => servers.target.admin(db.remote, async (c) => (await c.query<Record<string, unknown>>('SELECT * FROM archon_sprints ORDER BY id')).rows);
    const sprints = await readSprints();
    await expectSuccess(db.env);
    assert.deepEqual(await readSprints(), sprints);
    await servers.source.asOwner(db.local, (client) => client.query(
      `DELETE FROM archon_projects WHERE id = (SELECT min(id::text)::uuid FROM archon_projects)`));
    const before = await snapshot(servers.target, db.remote);
    const result = await runCli(syncArgs(), { env: db.env });
    await assertFailure(result, { code: 3, message: /public\.archon_sprints \(not copied\) has a row with project_id=[0-9a-f-]{36}/, target: { server: servers.target, database: db.remote, before }, history: 'failed' });
  });

  test('a copied row pointing at a key the target lacks outside the 17: exit 3 naming the constraint', async () => {
    const db = await pair(35, 36);
    await servers.source.asOwner(db.local, async (client) => {
      await client.query(`INSERT INTO archon_sprints (id, project_id, name) SELECT '00000000-0000-4000-8000-0000000000aa', id, 'source only' FROM archon_projects LIMIT 1`);
      await client.query(`UPDATE archon_tasks SET sprint_id = '00000000-0000-4000-8000-0000000000aa' WHERE id = (SELECT min(id::text)::uuid FROM archon_tasks)`);
    });
    const before = await snapshot(servers.target, db.remote);
    const result = await runCli(syncArgs(), { env: db.env });
    await assertFailure(result, { code: 3, message: /archon_tasks_sprint_id_fkey/, target: { server: servers.target, database: db.remote, before }, history: 'failed' });
  });

  test('a target table locked by another session: waits at most --lock-timeout, then exit 3 naming the table, the mode and the session', async () => {
    const db = await pair();
    const holder = await servers.target.owner(db.remote);
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE archon_tasks IN ACCESS SHARE MODE');
      const before = await snapshot(servers.target, db.remote);
      const started = Date.now();
      const result = await runCli(syncArgs('--lock-timeout=2'), { env: db.env });
      const seconds = (Date.now() - started) / 1000;
      await holder.query('ROLLBACK');
      await assertFailure(result, {
        code: 3,
        message: /locking failed: the ACCESS EXCLUSIVE lock on the target's (public\.)?archon_tasks was not granted within 2 s; pid \d+ \(no application_name, idle in transaction, since [^)]+\) holds AccessShareLock on it; retry when it is idle or raise --lock-timeout/,
        target: { server: servers.target, database: db.remote, before }, history: 'failed',
      });
      assert.ok(seconds < 15, `took ${seconds} s with --lock-timeout=2`);
      // The CLI wrote the row, so its error reads as the CLI's line does: the flag, not the library's option name.
      const [row] = (await historyRows(servers.target, db.remote)).slice(-1);
      assert.match(String(row?.error_message), /--lock-timeout/);
      assert.doesNotMatch(String(row?.error_message), /lockTimeoutMs/);
      assert.equal((row?.error_details as { failure?: string } | undefined)?.failure, 'lock-timeout');
    } finally {
      await holder.end();
    }
    await expectSuccess(db.env);
  });

  test('a role with a short statement_timeout on the target (as Supabase sets) still completes a long copy', async () => {
    const db = await pair(37, 38, 0.05);
    await servers.target.admin('postgres', (client) => client.query(`ALTER ROLE ${OWNER_ROLE} IN DATABASE ${db.remote} SET statement_timeout = '200ms'`));
    await expectSuccess(db.env);
    const [a, b] = await Promise.all([snapshot(servers.source, db.local), snapshot(servers.target, db.remote)]);
    assert.deepEqual(b.archon_crawled_pages, a.archon_crawled_pages);
  });

  test('a target role without SET on session_replication_role: the trigger fallback copies exactly', async () => {
    const db = await pair(39, 40);
    await servers.target.allowReplicationRole(false);
    try {
      const result = await runCli(syncArgs(), { env: db.env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /"mode":"disabled-triggers"/);
    } finally {
      await servers.target.allowReplicationRole(true);
    }
    const [a, b] = await Promise.all([snapshot(servers.source, db.local), snapshot(servers.target, db.remote)]);
    for (const table of Object.keys(a).filter((t) => t.startsWith('archon_') && !['archon_sprints', 'archon_workflow_stages', 'archon_project_hierarchy'].includes(t))) {
      assert.deepEqual(b[table], a[table], table);
    }
  });
});

describe('awkward input data is copied exactly', () => {
  test('maximal values: a 3584-d vector, a 10 MB text, a 50 MB jsonb, a 100k-element text array', async () => {
    const db = await pair(41, 42);
    for (const [server, name] of [[servers.source, db.local], [servers.target, db.remote]] as const) {
      await server.asOwner(name, (client) => client.query('ALTER TABLE archon_sources ADD COLUMN tags_array text[]'));
    }
    await servers.source.asOwner(db.local, async (client) => {
      await client.query(`UPDATE archon_crawled_pages SET embedding_3584 = (SELECT array_agg(((i % 1000) - 500) / 1000.0)::vector FROM generate_series(1, 3584) i), embedding_dimension = 3584
                           WHERE id = (SELECT min(id) FROM archon_crawled_pages)`);
      await client.query(`UPDATE archon_page_metadata SET full_content = repeat('ten megabytes of text, with ünïcode \\ and tabs' || chr(9), 230000)
                           WHERE id = (SELECT min(id::text)::uuid FROM archon_page_metadata)`);
      await client.query(`UPDATE archon_crawl_state SET crawl_results = (SELECT jsonb_agg(jsonb_build_object('url', 'https://example.com/' || i, 'body', repeat('x', 450))) FROM generate_series(1, 110000) i)
                           WHERE id = (SELECT min(id::text)::uuid FROM archon_crawl_state)`);
      await client.query(`UPDATE archon_sources SET tags_array = (SELECT array_agg('tag ' || i || ' "q" \\ ,{}') FROM generate_series(1, 100000) i)
                           WHERE source_id = (SELECT min(source_id) FROM archon_sources)`);
    });
    const sizes = await servers.source.admin(db.local, async (c) => (await c.query<{ text: number; json: number }>(
      `SELECT (SELECT max(octet_length(full_content)) FROM archon_page_metadata) AS text, (SELECT max(pg_column_size(crawl_results)) FROM archon_crawl_state) AS json`)).rows[0]);
    assert.ok((sizes?.text ?? 0) >= 10_000_000, `text only ${sizes?.text} bytes`);
    await expectSuccess(db.env);
    const [a, b] = await Promise.all([snapshot(servers.source, db.local), snapshot(servers.target, db.remote)]);
    for (const table of ['archon_crawled_pages', 'archon_page_metadata', 'archon_crawl_state', 'archon_sources']) assert.deepEqual(b[table], a[table], table);
    const jsonBytes = await servers.target.admin(db.remote, async (c) => (await c.query<{ n: number }>(`SELECT max(octet_length(crawl_results::text))::int AS n FROM archon_crawl_state`)).rows[0]?.n);
    assert.ok((jsonBytes ?? 0) >= 50_000_000, `jsonb only ${jsonBytes} bytes of text`);
  });

  test('empty tables, all-NULL rows, infinity timestamps and NaN numerics', async () => {
    const db = await pair(43, 44);
    await servers.source.asOwner(db.local, async (client) => {
      await client.query('DELETE FROM archon_document_versions; DELETE FROM archon_agent_work_order_steps; DELETE FROM archon_prompts');
      await client.query(`INSERT INTO archon_settings (id, key, value, encrypted_value, is_encrypted, category, description, created_at, updated_at)
                          VALUES ('00000000-0000-4000-8000-0000000000bb', 'ALL_NULL', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
      await client.query(`UPDATE archon_tasks SET due_date = 'infinity', completed_at = '-infinity', time_spent_hours = 'NaN'
                          WHERE id = (SELECT min(id::text)::uuid FROM archon_tasks)`);
      await client.query(`UPDATE archon_llm_pricing SET effective_date = '-infinity' WHERE id = (SELECT min(id) FROM archon_llm_pricing)`);
    });
    await expectSuccess(db.env);
    const [a, b] = await Promise.all([snapshot(servers.source, db.local), snapshot(servers.target, db.remote)]);
    for (const table of ['archon_document_versions', 'archon_agent_work_order_steps', 'archon_prompts', 'archon_settings', 'archon_tasks', 'archon_llm_pricing']) {
      assert.deepEqual(b[table], a[table], table);
    }
    assert.equal(b.archon_prompts?.rows, 0);
    await assertNothingLeft(servers.target, db.remote);
  });
});

