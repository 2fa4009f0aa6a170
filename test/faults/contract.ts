// The promise every failure keeps, checked the same way in every fault scenario.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { errorLines, runCli, type CliResult, type CliOptions } from '../support/cli.js';
import { OWNER_PASSWORD } from '../support/cluster.js';
import { fingerprintTables, type TableFingerprint } from '../support/fingerprint.js';
import { historyRows } from '../support/history.js';
import { ALL_TABLES } from '../support/fixtures.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';
import { filledDatabase } from '../support/fixtures.js';

export type Fingerprints = Record<string, TableFingerprint>;

/** Fingerprints of the 17 tables and the tables outside them, read as the superuser (immune to role settings). */
export async function snapshot(server: TestServer, database: string): Promise<Fingerprints> {
  return server.admin(database, (client) => fingerprintTables(client, ALL_TABLES));
}

export { historyRows } from '../support/history.js';

/** Every column of every history row as text: error_details and metadata must not carry a password either. */
async function wholeHistoryText(server: TestServer, database: string): Promise<string> {
  return server.admin(database, async (client) => (await client.query<{ rows: string | null }>(
    `SELECT string_agg(to_jsonb(h)::text, E'\\n') AS rows FROM archon_sync_history h`)).rows[0]?.rows ?? '');
}

/** Nothing of ours may be left on the server: backends, advisory locks, prepared transactions. */
export async function assertNothingLeft(server: TestServer, database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [state] = await server.admin(database, async (client) => (await client.query<{ backends: number; advisory: number; prepared: number; relation_locks: number }>(
      `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'archon-sync%') AS backends,
              (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory') AS advisory,
              (SELECT count(*)::int FROM pg_prepared_xacts) AS prepared,
              (SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                 JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE d.datname = $1 AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
                  AND a.backend_type = 'client backend') AS relation_locks`, [database])).rows);
    if (state && state.backends === 0 && state.advisory === 0 && state.prepared === 0 && state.relation_locks === 0) return;
    if (Date.now() > deadline) assert.fail(`server still holds archon-sync state: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { errorLines } from '../support/cli.js';

export interface FailureExpectation {
  code: number;
  message: RegExp;
  /** The target database and its fingerprints before the run, when the scenario reached a target. */
  target?: { server: TestServer; database: string; before: Fingerprints };
  /** Final status of the newest history row; `none` when the run must have stopped before writing one. */
  history?: 'failed' | 'cancelled' | 'none';
}

/** Exit code, one actionable stderr line, no password, target identical, history right, nothing left behind. */
export async function assertFailure(result: CliResult, expected: FailureExpectation): Promise<void> {
  assert.equal(result.code, expected.code, `exit code ${result.code}, stderr: ${result.stderr}`);
  const lines = errorLines(result);
  assert.equal(lines.length, 1, `expected exactly one error line, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', expected.message);
  for (const text of [result.stdout, result.stderr]) assert.ok(!text.includes(OWNER_PASSWORD), 'password in output');
  if (!expected.target) return;
  const { server, database, before } = expected.target;
  assert.deepEqual(await snapshot(server, database), before, 'the target changed');
  await assertNothingLeft(server, database);
  if (expected.history === 'none') {
    assert.deepEqual(await historyRows(server, database), [], 'a run refused before it started wrote a history row');
  } else if (expected.history) {
    const rows = await historyRows(server, database);
    const last = rows.at(-1);
    assert.equal(last?.status, expected.history, `history: ${JSON.stringify(rows)}`);
    assert.ok(!(await wholeHistoryText(server, database)).includes(OWNER_PASSWORD), 'password in a history column');
  }
}

export interface SeenOptions extends CliOptions {
  /** The server and database to watch. */
  server: TestServer;
  database: string;
  /** A LIKE pattern over pg_stat_activity.query of one of our backends. */
  queryLike: string;
  /** Only backends with this application_name (default: the run's main connections, `archon-sync` and `archon-sync sync_…`). */
  applicationName?: string;
  /** Only while the query runs (default); false also matches a backend that ran it last (a cursor between fetches). */
  activeOnly?: boolean;
}

/** Runs the CLI and calls `whenSeen` once a backend of the run is seen running a query that matches. */
export function runWhenSeen(
  args: string[],
  options: SeenOptions,
  whenSeen: (child: ChildProcess, backendPid: number) => Promise<void> | void,
): Promise<CliResult> {
  let fired: Promise<void> = Promise.resolve();
  const run = runCli(args, {
    ...options,
    onSpawn: (child) => {
      fired = (async () => {
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline && child.exitCode === null) {
          const rows = await options.server.admin(options.database, async (client) => (await client.query<{ pid: number }>(
            // A sync's target connection is 'archon-sync sync_…', and names itself 'archon-sync: building index N'
            // while it builds a table's indexes.
            `SELECT pid FROM pg_stat_activity WHERE datname = $1
                AND (application_name = $2 OR ($2 = 'archon-sync' AND (application_name LIKE 'archon-sync: %' OR application_name LIKE 'archon-sync sync%')))
                AND query LIKE $3 AND pid <> pg_backend_pid() AND (state = 'active' OR NOT $4)`,
            [options.database, options.applicationName ?? 'archon-sync', options.queryLike, options.activeOnly ?? true])).rows).catch(() => []);
          if (rows[0]) {
            await whenSeen(child, rows[0].pid);
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`no backend was ever seen running ${options.queryLike}`);
      })();
    },
  });
  return run.then(async (result) => {
    await fired;
    return result;
  });
}

/** Runs the CLI (sync, JSON logs) and calls `whenCopying` once the target is loading `table`. */
export function runDuringCopy(
  args: string[],
  options: CliOptions & { server: TestServer; database: string; table?: string },
  whenCopying: (child: ChildProcess, backendPid: number) => Promise<void> | void,
): Promise<CliResult> {
  const table = options.table ?? 'archon_crawled_pages';
  return runWhenSeen(args, { ...options, queryLike: `COPY "public"."${table}"%FROM STDIN%` }, whenCopying);
}

/** A CLI sync for fault scenarios: a full copy unless `extra` names another mode (the faults are about its steps). */
export function syncArgs(...extra: string[]): string[] {
  const mode = extra.some((a) => a.startsWith('--mode')) ? [] : ['--mode=full'];
  return ['--direction=local-to-remote', '--skip-confirm', '--log-format=json', ...mode, ...extra];
}

// Big enough that archon_crawled_pages takes a second or two to load, so a fault lands mid-copy.
const FAULT_SCALE = Number(process.env.ARCHON_SYNC_FAULT_SCALE ?? 0.1);

export interface FaultDatabases {
  servers: TestServers;
  local: string;
  remote: string;
  /** LOCAL_DATABASE_URI and REMOTE_DATABASE_URI for the CLI: local is the source. */
  env: Record<string, string>;
}

/** Two harness servers: a local database filled at the fault scale, a remote one holding other data. */
export async function faultDatabases(localSeed: number, remoteSeed: number): Promise<FaultDatabases> {
  const servers = await testServers();
  const [local, remote] = await Promise.all([
    filledDatabase(servers.source, localSeed, FAULT_SCALE, 'local'),
    filledDatabase(servers.target, remoteSeed, undefined, 'remote'),
  ]);
  return { servers, local, remote, env: { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) } };
}
