// The built CLI against real clusters: flags, env, confirmation, exit codes, history, signals, no passwords.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { emptyDir, jsonLines, runCli, CLI_PATH, type CliResult, errorLine } from '../support/cli.js';
import { OWNER_PASSWORD } from '../support/cluster.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { rowsIntoShadowTable, tamperWith } from '../support/tamper-proxy.js';
import { historyRows as historyRowsOf } from '../support/history.js';
import { runCliInPty } from '../support/pty.js';
import { UNGUARDED_FLAGS } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

async function pair(localSeed: number | undefined, remoteSeed: number | undefined, scale?: number) {
  const [local, remote] = await Promise.all([
    filledDatabase(servers.source, localSeed, scale, 'local'),
    filledDatabase(servers.target, remoteSeed, scale, 'remote'),
  ]);
  return {
    local, remote,
    env: { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) },
  };
}

function assertNoPassword(result: CliResult, extra = ''): void {
  for (const text of [result.stdout, result.stderr, extra]) {
    assert.ok(!text.includes(OWNER_PASSWORD), `password leaked: ${text.slice(0, 400)}`);
  }
}


async function historyRows(database: string) {
  return historyRowsOf(servers.target, database);
}

describe('archon-sync CLI', () => {
  test('--help lists every option with defaults, the env variables, the exit codes and examples', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const expected of ['--direction', '--dry-run', '--skip-confirm', '--tables', '--exclude', '--env-file', '--log-format', '--quiet',
      '--lock-timeout', '--triggered-by', 'LOCAL_DATABASE_URI', 'REMOTE_DATABASE_URI', 'Exit codes', 'crontab', '[default: 10]']) {
      if (expected === 'crontab') assert.match(result.stdout, /\* \* \*/);
      else assert.ok(result.stdout.includes(expected), `--help lacks ${expected}`);
    }
  });

  test('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  test('exits 1 with one line when --direction is missing or misspelled', async () => {
    for (const args of [[], ['--direction=sideways'], ['--direction']]) {
      const result = await runCli(args, { env: { LOCAL_DATABASE_URI: 'postgresql://a@h/db', REMOTE_DATABASE_URI: 'postgresql://b@h/db' } });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(errorLine(result), /direction/);
    }
  });

  test('exits 1 naming the variable when one or both URIs are missing, or one is not a URI', async () => {
    const both = await runCli(['--direction=local-to-remote', '--skip-confirm']);
    assert.equal(both.code, 1);
    assert.match(errorLine(both), /LOCAL_DATABASE_URI and REMOTE_DATABASE_URI are not set/);
    const one = await runCli(['--direction=local-to-remote', '--skip-confirm'], { env: { LOCAL_DATABASE_URI: 'postgresql://a@h/db' } });
    assert.equal(one.code, 1);
    assert.match(errorLine(one), /REMOTE_DATABASE_URI is not set/);
    const bad = await runCli(['--direction=local-to-remote', '--skip-confirm'], {
      env: { LOCAL_DATABASE_URI: 'not a uri with secretpw', REMOTE_DATABASE_URI: 'postgresql://b@h/db' },
    });
    assert.equal(bad.code, 1);
    assert.match(errorLine(bad), /source database URI must start with postgresql:\/\//);
  });

  test('refuses at once without a terminal and without --skip-confirm, changing nothing', async () => {
    const db = await pair(1, 2);
    const before = await fingerprintDatabase(servers.target, db.remote);
    const result = await runCli(['--direction=local-to-remote'], { env: db.env });
    assert.equal(result.code, 1);
    assert.match(errorLine(result), /--skip-confirm/);
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote), before);
  });

  test('--dry-run prints the plan, exits 0 and writes nothing anywhere, not even a history row', async () => {
    const db = await pair(3, 4);
    const [l0, r0] = await Promise.all([fingerprintDatabase(servers.source, db.local), fingerprintDatabase(servers.target, db.remote)]);
    const result = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'], { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Dry run: local-to-remote/);
    assert.match(result.stdout, /archon_crawled_pages/);
    assert.ok(result.stdout.includes('127.0.0.1:'));
    assertNoPassword(result);
    const [l1, r1] = await Promise.all([fingerprintDatabase(servers.source, db.local), fingerprintDatabase(servers.target, db.remote)]);
    assert.deepEqual(l1, l0);
    assert.deepEqual(r1, r0);
    assert.deepEqual(await historyRows(db.remote), []);
  });

  test('syncs local-to-remote with JSON lines, records a completed history row, prints no password', async () => {
    const db = await pair(5, 6);
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    const lines = jsonLines(result.stdout);
    const events = lines.map((l) => l.event);
    assert.ok(events.includes('plan') && events.includes('completed'));
    // A target holding other data: auto compares every table's digests first, then copies each in full.
    assert.equal(lines.filter((l) => l.event === 'table-end' && l.phase === 'compare').length, 17);
    assert.equal(lines.filter((l) => l.event === 'table-end' && l.phase === 'copy').length, 17);
    const completed = lines.find((l) => l.event === 'completed') as { tables?: { mode: string }[] } | undefined;
    assert.ok(completed?.tables?.every((t) => t.mode === 'full'), 'every table changed entirely: copied in full');
    const history = await historyRows(db.remote);
    assert.equal(history.length, 1);
    const row = history[0]!;
    assert.match(String(row.sync_id), /^sync_\d{8}_\d{6}$/);
    assert.equal(row.status, 'completed');
    assert.equal(row.percent_complete, 100);
    assert.equal(row.direction, 'local-to-remote');
    assert.equal(row.source_db, 'local');
    assert.equal(row.target_db, 'remote');
    assert.equal(row.triggered_by, 'cron');
    assert.equal((row.tables_synced as unknown[]).length, 17);
    assert.equal(row.synced_rows, row.total_rows);
    assertNoPassword(result, JSON.stringify(history));
    const [a, b] = await Promise.all([fingerprintDatabase(servers.source, db.local, ARCHON_TABLES), fingerprintDatabase(servers.target, db.remote, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });

  test('syncs remote-to-local reading URIs from .env, where the environment wins over the file', async () => {
    const db = await pair(7, 8);
    const dir = emptyDir();
    writeFileSync(join(dir, '.env'), `LOCAL_DATABASE_URI=postgresql://nobody:wrong@127.0.0.1:1/none\nREMOTE_DATABASE_URI=${db.env.REMOTE_DATABASE_URI}\n`);
    const result = await runCli(['--direction=remote-to-local', '--skip-confirm', '--quiet', '--log-format=pretty'], {
      cwd: dir, env: { LOCAL_DATABASE_URI: db.env.LOCAL_DATABASE_URI },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    const [a, b] = await Promise.all([fingerprintDatabase(servers.target, db.remote, ARCHON_TABLES), fingerprintDatabase(servers.source, db.local, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });

  test('--tables and --exclude narrow the selection', async () => {
    const db = await pair(9, 10);
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json', '--tables=archon_settings,archon_prompts', '--tables', 'archon_llm_pricing', '--exclude=archon_prompts'], { env: db.env });
    assert.equal(result.code, 0, result.stderr);
    const plan = jsonLines(result.stdout).find((l) => l.event === 'plan') as { tables: { table: string }[] };
    assert.deepEqual(plan.tables.map((t) => t.table), ['archon_settings', 'archon_llm_pricing']);
    const bad = await runCli(['--direction=local-to-remote', '--skip-confirm', '--exclude=archon_nope'], { env: db.env });
    assert.equal(bad.code, 1);
  });

  test('exits 2 on a wrong password and on a refused port, fast, without printing the password', async () => {
    const db = await pair(undefined, undefined);
    const wrong = db.env.REMOTE_DATABASE_URI.replace(encodeURIComponent(OWNER_PASSWORD), 'Wrong-pw-123');
    const started = Date.now();
    const bad = await runCli(['--direction=local-to-remote', '--skip-confirm'], { env: { ...db.env, REMOTE_DATABASE_URI: wrong } });
    assert.equal(bad.code, 2);
    assert.match(errorLine(bad), /password authentication failed/);
    assert.ok(!bad.stderr.includes('Wrong-pw-123'));
    const refused = await runCli(['--direction=local-to-remote', '--skip-confirm'], {
      env: { ...db.env, REMOTE_DATABASE_URI: `postgresql://archon_owner:${OWNER_PASSWORD}@127.0.0.1:1/x?sslmode=disable` },
    });
    assert.equal(refused.code, 2);
    assert.match(errorLine(refused), /connection refused/);
    assertNoPassword(refused);
    assert.ok(Date.now() - started < 20_000);
  });

  test('exits 3 with the table named when the target lacks one of the tables, before any write', async () => {
    const db = await pair(11, 12);
    await ownerSql(servers.target, db.remote, 'DROP TABLE archon_prompts');
    const before = await fingerprintDatabase(servers.target, db.remote, ARCHON_TABLES.filter((t) => t !== 'archon_prompts'));
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm'], { env: db.env });
    assert.equal(result.code, 3);
    assert.match(errorLine(result), /archon_prompts does not exist on the target/);
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote, ARCHON_TABLES.filter((t) => t !== 'archon_prompts')), before);
  });

  test('exits 4 and rolls back when verification finds a mismatch, recording the failure', async () => {
    const db = await pair(13, 14);
    await ownerSql(servers.target, db.remote, 'CREATE TABLE archon_settingz (LIKE archon_settings)');
    const before = await fingerprintDatabase(servers.target, db.remote);
    const { proxy, uri } = await tamperWith(db.env.REMOTE_DATABASE_URI, rowsIntoShadowTable('archon_settings', 'archon_settingz'));
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], {
      env: { ...db.env, REMOTE_DATABASE_URI: uri },
    }).finally(() => proxy.close());
    assert.ok(proxy.replaced > 0, `the fault was not injected: ${result.stderr}`);
    assert.equal(result.code, 4, result.stderr);
    assert.match(errorLine(result), /row counts differ/);
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote), before);
    const history = await historyRows(db.remote);
    assert.equal(history[0]?.status, 'failed');
    assert.match(String(history[0]?.error_message), /row counts differ/);
  });

  test('exits 1 when source and target are the same database', async () => {
    const db = await pair(undefined, undefined);
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm'], { env: { ...db.env, REMOTE_DATABASE_URI: db.env.LOCAL_DATABASE_URI } });
    assert.equal(result.code, 1, result.stderr);
    assert.match(errorLine(result), /same database/);
  });

  test('a declined prompt on a terminal exits 5 and changes nothing', async () => {
    const db = await pair(15, 16);
    const before = await fingerprintDatabase(servers.target, db.remote);
    // `script` gives the CLI a real pseudo-terminal, as a person at a shell has.
    const command = `${process.execPath} -- ${CLI_PATH} --direction=local-to-remote --log-format=pretty ${UNGUARDED_FLAGS.join(' ')}`;
    const result = spawnSync('script', ['-qec', command, '/dev/null'], {
      input: 'no\n', env: { ...process.env, ...db.env }, encoding: 'utf8', timeout: 60_000, cwd: emptyDir(),
    });
    assert.equal(result.status, 5, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Type "yes" to continue/);
    assert.match(result.stdout, /not confirmed/);
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote), before);
  });

  test('a confirmed prompt on a terminal syncs', async () => {
    const db = await pair(17, 18);
    const command = `${process.execPath} -- ${CLI_PATH} --direction=local-to-remote --log-format=pretty ${UNGUARDED_FLAGS.join(' ')}`;
    const result = spawnSync('script', ['-qec', command, '/dev/null'], {
      input: 'yes\n', env: { ...process.env, ...db.env }, encoding: 'utf8', timeout: 120_000, cwd: emptyDir(),
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /completed sync_/);
    assert.ok(!result.stdout.includes(OWNER_PASSWORD));
    const [a, b] = await Promise.all([fingerprintDatabase(servers.source, db.local, ARCHON_TABLES), fingerprintDatabase(servers.target, db.remote, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });

  test('Ctrl-D at the prompt cancels (exit 5) and changes nothing', async () => {
    const db = await pair(22, 23);
    const before = await fingerprintDatabase(servers.target, db.remote);
    const result = await runCliInPty(['--direction=local-to-remote', '--log-format=pretty'], { env: db.env, answer: { when: /to continue: /, keys: '\u0004' }, timeoutMs: 60_000 });
    assert.equal(result.code, 5, result.raw);
    assert.match(result.raw, /Type "yes" to continue/);
    assert.match(result.raw, /not confirmed; nothing was changed/);
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote), before);
  });

  test('a server lost while the prompt waits ends the run (exit 3) instead of waiting for an answer', async () => {
    const db = await pair(28, 29);
    const before = await fingerprintDatabase(servers.target, db.remote);
    const started = Date.now();
    const result = await runCliInPty(['--direction=local-to-remote', '--log-format=pretty'], {
      env: db.env, timeoutMs: 60_000,
      answer: {
        when: /to continue: /,
        act: async () => {
          await servers.target.admin('postgres', (client) => client.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'archon-sync sync%'`, [db.remote]));
        },
      },
    });
    assert.equal(result.code, 3, result.screen.join('\n'));
    assert.match(result.raw, /archon-sync:.*(terminat|connection)/);
    assert.ok(Date.now() - started < 45_000, 'the run waited for an answer that could change nothing');
    assert.deepEqual(await fingerprintDatabase(servers.target, db.remote), before);
    assert.equal((await historyRows(db.remote)).at(-1)?.status, 'failed');
  });

  test('the README\'s cron line keeps the JSON log pure JSON, and the failure line goes to the mail', async () => {
    const readme = readFileSync(resolve('README.md'), 'utf8');
    const line = /```cron\n(.+)\n```/.exec(readme)?.[1] ?? '';
    assert.match(line, /^15 3 \* \* \* cd \/srv\/archon && archon-sync /);
    // --help shows the same line.
    const words = (text: string) => text.replace(/\s+/g, ' ');
    assert.ok(words((await runCli(['--help'])).stdout).includes(words(line)), '--help and the README show different cron lines');
    const dir = emptyDir();
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'archon-sync'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -- ${JSON.stringify(CLI_PATH)} "$@" ${UNGUARDED_FLAGS.join(' ')}\n`);
    chmodSync(join(dir, 'bin', 'archon-sync'), 0o755);
    const command = line.replace(/^(\S+ ){5}/, '').replaceAll('/srv/archon', dir).replaceAll('/var/log/', `${dir}/`);
    const cron = (env: Record<string, string>) => spawnSync('bash', ['-c', `mail() { cat > "${dir}/mail.txt"; }; export -f mail; ${command}`], {
      env: { ...process.env, ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` }, encoding: 'utf8', timeout: 120_000,
    });
    const db = await pair(24, 25);
    const ok = cron(db.env);
    assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
    const failed = cron({ ...db.env, REMOTE_DATABASE_URI: db.env.REMOTE_DATABASE_URI.replace(encodeURIComponent(OWNER_PASSWORD), 'Wrong-pw-1') });
    assert.equal(failed.status, 0, 'the mail ran');
    const log = readFileSync(join(dir, 'archon-sync.log'), 'utf8');
    const lines = jsonLines(log);
    assert.ok(lines.some((l) => l.event === 'completed') && lines.some((l) => l.event === 'failed'), 'both runs logged');
    const mailed = readFileSync(join(dir, 'mail.txt'), 'utf8');
    assert.match(mailed, /^archon-sync: cannot connect to target .*password authentication failed/);
    assert.ok(!log.includes(OWNER_PASSWORD) && !mailed.includes(OWNER_PASSWORD) && !mailed.includes('Wrong-pw-1'));
    assert.ok(existsSync(join(dir, 'archon-sync.err')));
  });

  test('--json means the same on every command: JSON on stdout and nothing else there', async () => {
    const db = await pair(26, 27);
    // Each command twice, with --json and with --log-format=json: the same exit, stdout all JSON, the same stderr.
    const sameAs = async (args: string[]) => {
      const [json, logFormat] = [await runCli([...args, '--json'], { env: db.env }), await runCli([...args, '--log-format=json'], { env: db.env })];
      assert.equal(json.code, logFormat.code, `${args.join(' ')}: ${json.stderr}`);
      for (const result of [json, logFormat]) assert.ok(jsonLines(result.stdout).length > 0, `${args.join(' ')}: nothing on stdout`);
      assert.equal(json.stderr, logFormat.stderr, args.join(' '));
      return { json, logFormat };
    };
    const dry = await sameAs(['--direction=local-to-remote', '--dry-run']);
    for (const result of [dry.json, dry.logFormat]) assert.ok(jsonLines(result.stdout).some((l) => l.event === 'plan'));
    const synced = await sameAs(['--direction=local-to-remote', '--skip-confirm']);
    for (const result of [synced.json, synced.logFormat]) assert.ok(jsonLines(result.stdout).some((l) => l.event === 'completed'));
    const verified = await sameAs(['verify', '--direction=local-to-remote']);
    assert.equal(verified.json.code, 0, verified.json.stderr);
    assert.ok(jsonLines(verified.json.stdout).some((l) => l.event === 'verified'));
    const listed = await sameAs(['history', '--database=remote']);
    assert.equal(listed.json.stdout, listed.logFormat.stdout);
    assert.ok(Array.isArray(JSON.parse(listed.json.stdout)), 'history prints its rows as one JSON array');
    await ownerSql(servers.target, db.remote, 'DROP TABLE archon_sync_history');
    const missing = await sameAs(['history', '--database=remote']);
    assert.equal(missing.json.code, 1);
    for (const result of [missing.json, missing.logFormat]) assert.deepEqual(jsonLines(result.stdout).map((l) => l.event), ['failed']);
    assert.match(errorLine(missing.json), /create it with `archon-sync init-history --database remote`/);
    const created = await sameAs(['init-history', '--database=remote']);
    assert.deepEqual(jsonLines(created.json.stdout).map((l) => l.event), ['info']);
  });

  test('the history row is visible while a large copy runs: running, with synced_rows rising, then completed at 100 %', async () => {
    // Live progress reaches the row at most every 3 s, none in a run's first 3 s: the copy must outlast that.
    const db = await pair(21, undefined, 0.3);
    const seen: { status: string; synced: number; phase: string }[] = [];
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], {
      env: db.env,
      onSpawn: (child) => {
        const poll = async () => {
          while (child.exitCode === null) {
            const rows = await servers.target.admin(db.remote, async (c) => (await c.query<{ status: string; synced_rows: number | null; current_phase: string }>(
              'SELECT status, synced_rows, current_phase FROM archon_sync_history')).rows).catch(() => []);
            for (const r of rows) seen.push({ status: r.status, synced: r.synced_rows ?? 0, phase: r.current_phase });
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        };
        void poll();
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const running = seen.filter((s) => s.status === 'running');
    const distinct = [...new Set(running.map((s) => s.synced))];
    assert.ok(distinct.length >= 2, `expected synced_rows to rise while running, saw ${JSON.stringify(distinct)}`);
    assert.deepEqual(distinct, [...distinct].sort((a, b) => a - b), 'synced_rows went down');
    assert.ok(running.some((s) => s.phase === 'copy'), `no progress written during the copy: ${JSON.stringify([...new Set(running.map((s) => `${s.phase} ${s.synced}`))])}`);
    const [final] = await historyRows(db.remote);
    assert.equal(final?.status, 'completed');
    assert.equal(final?.percent_complete, 100);
  });

  test('history lists runs as a table and as JSON; init-history creates the table where it is missing', async () => {
    const db = await pair(19, 20);
    await ownerSql(servers.target, db.remote, 'DROP TABLE archon_sync_history');
    const noTable = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env: db.env });
    assert.equal(noTable.code, 0, noTable.stderr);
    assert.ok(jsonLines(noTable.stdout).some((l) => l.level === 40 && String(l.msg).includes('init-history')));
    const init = await runCli(['init-history', '--database=remote'], { env: db.env });
    assert.equal(init.code, 0, init.stderr);
    const again = await runCli(['init-history', '--database=remote'], { env: db.env });
    assert.equal(again.code, 0, again.stderr);
    const run = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json'], { env: db.env });
    assert.equal(run.code, 0, run.stderr);
    const list = await runCli(['history', '--direction=local-to-remote', '--json'], { env: db.env });
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { status: string; sync_id: string }[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.status, 'completed');
    const pretty = await runCli(['history', '--database=remote', '--log-format=pretty'], { env: db.env });
    assert.equal(pretty.code, 0);
    assert.ok(pretty.stdout.includes(rows[0]?.sync_id ?? 'missing'));
  });
});
