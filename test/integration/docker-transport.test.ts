// container= on real clusters: pg's socket replaced by a `docker exec -i` bridge, run here by a stand-in docker CLI.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARCHON_TABLES, CancelledError, ConfigurationError, ConnectionError, plan, sync } from '../../src/index.js';
import { classifyDockerFailure } from '../../src/pg/docker-transport.js';
import { emptyDir, runCli, type CliResult, errorLine } from '../support/cli.js';
import { freePort, OWNER_PASSWORD } from '../support/cluster.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import { UNGUARDED } from '../support/unguarded.js';

const FAKE_DOCKER_DIR = resolve('test/fixtures/fake-docker');
const CONTAINER = 'fake-db';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

/** The owner URI of a database with container= added: the bridge reaches the same 127.0.0.1:port from "inside". */
function viaContainer(server: TestServer, database: string, container = CONTAINER): string {
  return `${server.ownerUri(database)}&container=${container}`;
}

/** A fresh argv log and the environment that puts the stand-in docker first on PATH. */
function fakeDockerEnv(): { env: Record<string, string>; argvLog: string } {
  const argvLog = join(mkdtempSync(join(tmpdir(), 'archon-sync-docker-')), 'argv.log');
  writeFileSync(argvLog, '');
  return {
    argvLog,
    env: {
      PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`,
      FAKE_DOCKER_CONTAINERS: `${CONTAINER} other-db`,
      FAKE_DOCKER_STOPPED: 'stopped-db',
      FAKE_DOCKER_ARGV_LOG: argvLog,
    },
  };
}

/** Runs library code with the stand-in docker in this process's environment, restored afterwards. */
async function withFakeDocker<T>(work: (argvLog: string) => Promise<T>): Promise<T> {
  const { env, argvLog } = fakeDockerEnv();
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await work(argvLog);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Every docker invocation recorded by the stand-in, one shell-quoted argv per line. */
function recordedInvocations(argvLog: string): string[] {
  return readFileSync(argvLog, 'utf8').split('\n').filter((line) => line !== '');
}

function assertBridgedWithoutPassword(argvLog: string): void {
  const invocations = recordedInvocations(argvLog);
  assert.ok(invocations.length > 0, 'docker was never run: the connection did not go through the container transport');
  for (const line of invocations) {
    assert.match(line, new RegExp(`docker exec -i ${CONTAINER} bash -c `));
    assert.ok(!line.includes(OWNER_PASSWORD) && !line.includes(encodeURIComponent(OWNER_PASSWORD)), `password in docker argv: ${line}`);
  }
}

/**
 * Watches the command line of every process on the machine while a run goes on: a password in any argv would be
 * visible to every user through ps.
 */
function watchCommandLines(secret: string): { stop: () => string[] } {
  const seen = new Set<string>();
  const scan = () => {
    for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        if (argv.includes(secret)) seen.add(argv);
      } catch {
        // The process ended between listing and reading.
      }
    }
  };
  const timer = setInterval(scan, 25);
  scan();
  return { stop: () => { clearInterval(timer); scan(); return [...seen]; } };
}

function assertNoPassword(result: CliResult): void {
  for (const text of [result.stdout, result.stderr]) {
    assert.ok(!text.includes(OWNER_PASSWORD), `password printed: ${text.slice(0, 400)}`);
  }
}


async function assertEqual(source: string, target: string): Promise<void> {
  const [a, b] = await Promise.all([
    fingerprintDatabase(servers.source, source, ARCHON_TABLES),
    fingerprintDatabase(servers.target, target, ARCHON_TABLES),
  ]);
  for (const table of ARCHON_TABLES) assert.deepEqual(b[table], a[table], `${table} differs after the sync`);
}

describe('docker container transport (container=)', () => {
  test('a full sync reads all 17 tables from a source reached through the container and the target equals it', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 61, undefined, 'src'), filledDatabase(servers.target, 62, undefined, 'dst')]);
    await withFakeDocker(async (argvLog) => {
      const result = await sync({ ...UNGUARDED, source: viaContainer(servers.source, source), target: servers.target.ownerUri(target) });
      assert.equal(result.tables.length, 17);
      assertBridgedWithoutPassword(argvLog);
    });
    await assertEqual(source, target);
  });

  test('a full sync writes through the container: TRUNCATE, COPY FROM, index rebuilds, history and COMMIT over the bridge', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 63, undefined, 'src'), filledDatabase(servers.target, 64, undefined, 'dst')]);
    await withFakeDocker(async (argvLog) => {
      const result = await sync({ ...UNGUARDED, 
        source: servers.source.ownerUri(source),
        target: viaContainer(servers.target, target),
        history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote', triggeredBy: 'docker-transport-test' },
      });
      assert.deepEqual(result.tables.map((t) => t.copiedRows), result.tables.map((t) => t.sourceRows));
      // The target connection and the history connection each ran one bridge.
      assert.ok(recordedInvocations(argvLog).length >= 2);
      assertBridgedWithoutPassword(argvLog);
    });
    await assertEqual(source, target);
    const history = await ownerSql(servers.target, target, 'SELECT status FROM archon_sync_history');
    assert.deepEqual(history, [{ status: 'completed' }]);
  });

  test('both sides through containers, then aborting mid-copy rolls the target back and ends every bridge', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 65, undefined, 'src'), filledDatabase(servers.target, 66, undefined, 'dst')]);
    const before = await fingerprintDatabase(servers.target, target);
    await withFakeDocker(async () => {
      const controller = new AbortController();
      const run = sync({ ...UNGUARDED,
        source: viaContainer(servers.source, source),
        target: viaContainer(servers.target, target),
        signal: controller.signal,
        onEvent: (e) => { if (e.type === 'table-start' && e.table === 'archon_crawled_pages') controller.abort(); },
      });
      await assert.rejects(run, CancelledError);
    });
    assert.deepEqual(await fingerprintDatabase(servers.target, target), before);
    // Closing a bridge's stdin must close its socket inside the "container": no session of ours may linger.
    const deadline = Date.now() + 10_000;
    let sessions: Record<string, unknown>[] = [];
    do {
      sessions = await servers.target.admin('postgres', async (client) => (await client.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'archon-sync%'`, [target])).rows as Record<string, unknown>[]);
      if (sessions.length === 0) break;
      await new Promise((done) => setTimeout(done, 100));
    } while (Date.now() < deadline);
    assert.deepEqual(sessions, []);
  });

  test('refuses sslmode=require, a Unix socket host and a name docker would read as an option, before contacting anything', async () => {
    const database = await servers.source.createDatabase('cfg');
    const direct = servers.target.ownerUri(await servers.target.createDatabase('cfg'));
    const base = servers.source.ownerUri(database, '');
    const cases: [string, RegExp][] = [
      [`${base}?sslmode=require&container=${CONTAINER}`, /sslmode=require with container=fake-db.*set sslmode=disable/],
      [`${base}?container=--privileged`, /not a Docker container name or ID/],
      [`postgresql://archon_owner:${OWNER_PASSWORD}@%2Fvar%2Frun%2Fpostgresql/${database}?container=${CONTAINER}`, /Unix socket directory/],
    ];
    await withFakeDocker(async (argvLog) => {
      for (const [uri, pattern] of cases) {
        await assert.rejects(plan({ ...UNGUARDED, source: uri, target: direct }), (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, `expected ConfigurationError, got ${String(error)}`);
          assert.match(error.message, pattern);
          assert.ok(!error.message.includes(OWNER_PASSWORD));
          return true;
        });
      }
      assert.deepEqual(recordedInvocations(argvLog), []);
    });
  });

  test('a refused bridge rejects the library call with a ConnectionError naming the container, host and port', async () => {
    const port = await freePort();
    await withFakeDocker(async () => {
      await assert.rejects(plan({ ...UNGUARDED, 
        source: `postgresql://archon_owner:${OWNER_PASSWORD}@127.0.0.1:${port}/x?container=${CONTAINER}`,
        target: servers.target.ownerUri(await servers.target.createDatabase('x')),
      }), (error: unknown) => {
        assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
        assert.match(error.message, new RegExp(`^cannot connect to source 127\\.0\\.0\\.1:${port}/x via docker container fake-db: inside Docker container "fake-db", nothing accepts connections at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
        assert.equal((error.cause as ConnectionError).details?.reason, 'bridge-cannot-connect');
        return true;
      });
    });
  });
});

describe('docker container transport through the CLI', () => {
  async function pair() {
    const [local, remote] = await Promise.all([filledDatabase(servers.source, 71, undefined, 'local'), filledDatabase(servers.target, 72, undefined, 'remote')]);
    return { local, remote, remoteUri: servers.target.ownerUri(remote) };
  }

  test('syncs local-to-remote through the container; no process argv, stdout or stderr ever holds the password', async () => {
    const db = await pair();
    const { env, argvLog } = fakeDockerEnv();
    const watcher = watchCommandLines(OWNER_PASSWORD);
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], {
      env: { ...env, LOCAL_DATABASE_URI: viaContainer(servers.source, db.local), REMOTE_DATABASE_URI: db.remoteUri },
    });
    const leaks = watcher.stop();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(leaks, [], 'a process showed the password in its command line');
    assertNoPassword(result);
    assertBridgedWithoutPassword(argvLog);
    assert.match(result.stdout, /via docker container fake-db/);
    await assertEqual(db.local, db.remote);
  });

  test('exits 2 with one line when docker is not on PATH', async () => {
    const db = await pair();
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm'], {
      env: { PATH: emptyDir(), LOCAL_DATABASE_URI: viaContainer(servers.source, db.local), REMOTE_DATABASE_URI: db.remoteUri },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(errorLine(result), /cannot connect to source 127\.0\.0\.1:\d+\/\S+ via docker container fake-db: the docker command is not on PATH \(needed for container=fake-db\); install Docker's CLI/);
    assertNoPassword(result);
  });

  test('exits 2 with one line for an unknown container and for a stopped one, in Docker\'s words', async () => {
    const db = await pair();
    const { env, argvLog } = fakeDockerEnv();
    const unknown = await runCli(['--direction=local-to-remote', '--skip-confirm'], {
      env: { ...env, LOCAL_DATABASE_URI: viaContainer(servers.source, db.local, 'no-such-db'), REMOTE_DATABASE_URI: db.remoteUri },
    });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(errorLine(unknown), /via docker container no-such-db: there is no Docker container "no-such-db"; docker ps lists the running ones/);
    assertNoPassword(unknown);
    const stopped = await runCli(['--direction=remote-to-local', '--skip-confirm'], {
      env: { ...env, LOCAL_DATABASE_URI: viaContainer(servers.source, db.local, 'stopped-db'), REMOTE_DATABASE_URI: db.remoteUri },
    });
    assert.equal(stopped.code, 2, stopped.stderr);
    assert.match(errorLine(stopped), /Docker container "stopped-db" is not running; start it \(docker start stopped-db/);
    assertNoPassword(stopped);
    assert.ok(!readFileSync(argvLog, 'utf8').includes(OWNER_PASSWORD));
  });

  test('exits 2 with one line when the bridge cannot reach PostgreSQL inside the container (wrong port)', async () => {
    const db = await pair();
    const { env, argvLog } = fakeDockerEnv();
    const port = await freePort();
    const wrongPort = viaContainer(servers.source, db.local).replace(/@127\.0\.0\.1:\d+\//, `@127.0.0.1:${port}/`);
    const started = Date.now();
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm'], {
      env: { ...env, LOCAL_DATABASE_URI: wrongPort, REMOTE_DATABASE_URI: db.remoteUri },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(errorLine(result), new RegExp(`inside Docker container "fake-db", nothing accepts connections at 127\\.0\\.0\\.1:${port} \\(connection refused\\); the URI's host and port are used inside the container`));
    assert.ok(Date.now() - started < 20_000, 'a refused bridge must fail fast, not at the connect timeout');
    assertNoPassword(result);
    assertBridgedWithoutPassword(argvLog);
  });
});

describe('docker failure messages', () => {
  const options = { container: 'supabase-db', host: 'localhost', port: 5432 };
  const cases: [string, string, number | null, boolean, string, RegExp][] = [
    ['daemon down', 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n', 1, false,
      'docker-unreachable', /^docker cannot reach its daemon \(Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?\); start Docker/],
    ['no permission', 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/containers/supabase-db/json": dial unix /var/run/docker.sock: connect: permission denied\n', 1, false,
      'docker-unreachable', /^docker cannot reach its daemon/],
    ['paused', 'Error response from daemon: Container supabase-db is paused, unpause the container before exec\n', 1, false,
      'container-not-running', /is paused; docker unpause supabase-db/],
    ['restarting', 'Error response from daemon: Container 3f2a is restarting, wait until the container is running\n', 1, false,
      'container-not-running', /is not running; start it/],
    ['podman unknown', 'Error: no container with name or ID "supabase-db" found: no such container\n', 125, false,
      'no-such-container', /there is no Docker container "supabase-db"/],
    ['podman stopped', 'Error: can only create exec sessions on running containers: container state improper\n', 125, false,
      'container-not-running', /is not running/],
    ['no bash', 'OCI runtime exec failed: exec failed: unable to start container process: exec: "bash": executable file not found in $PATH: unknown\n', 126, false,
      'no-bash', /has no bash, which container= needs; publish PostgreSQL's port/],
    ['bash without /dev/tcp', 'archon-sync-bridge: line 1: /dev/tcp/localhost/5432: No such file or directory\n', 97, false,
      'no-dev-tcp', /has no \/dev\/tcp/],
    ['unknown host inside', 'archon-sync-bridge: line 1: localhost: Name or service not known\narchon-sync-bridge: line 1: /dev/tcp/localhost/5432: Invalid argument\n', 97, false,
      'bridge-cannot-connect', /nothing accepts connections at localhost:5432 \(host name "localhost" cannot be resolved there\)/],
    ['container stopped mid-run', 'archon-sync-bridge: connected\n', 137, true,
      'bridge-ended', /^the docker exec bridge into container "supabase-db" ended \(exit 137\)$/],
  ];
  for (const [what, stderr, code, connected, reason, pattern] of cases) {
    test(`says what to do when ${what}, in one line`, () => {
      const verdict = classifyDockerFailure(options, stderr, code, connected);
      assert.equal(verdict.reason, reason);
      assert.match(verdict.message, pattern);
      assert.ok(!verdict.message.includes('\n'));
    });
  }
});
