// Issue 25 from the command line: under cron the deletion guard and the target's own edits refuse in one line
// (exit 3) before any write, the flags that allow them do, a dry run exits 0 and says the run would be refused, a
// person on a terminal is shown the destructive totals and the edits before typing yes, and --tables mistakes are
// errors naming the name (exit 1).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertFailure, snapshot } from '../faults/contract.js';
import { errorLine, jsonLines, runCli } from '../support/cli.js';
import { ALL_TABLES, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { runCliInPty } from '../support/pty.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, side, type Side } from '../support/sides.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

interface Pair { local: Side; remote: Side; env: Record<string, string> }

/** A local and a remote database, the remote a committed copy of the local (so a watermark is trusted). */
async function synced(seed: number): Promise<Pair> {
  const [local, remote] = await Promise.all([side(servers.source, seed, 'slocal'), side(servers.target, seed + 1, 'sremote')]);
  const env = { LOCAL_DATABASE_URI: local.uri, REMOTE_DATABASE_URI: remote.uri };
  const first = await runCli(['--direction=local-to-remote', '--skip-confirm', '--json', '--mode=full', '--max-delete=100'], { env, guarded: true });
  assert.equal(first.code, 0, first.stderr);
  return { local, remote, env };
}

const cron = (p: Pair, ...flags: string[]) => runCli(['--direction=local-to-remote', '--json', ...flags], { env: p.env, guarded: true });

describe('safety on the command line', () => {
  test('under cron an emptied source is refused in one line naming tables, counts and --max-delete; the dry run says so and exits 0; --max-delete=100 allows it', async () => {
    const p = await synced(261);
    await ownerSql(p.local.server, p.local.database, 'DELETE FROM archon_code_examples; DELETE FROM archon_crawled_pages');
    const before = await fingerprintDatabase(p.remote.server, p.remote.database, ALL_TABLES);
    const dry = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'], { env: p.env, guarded: true });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /a sync would be REFUSED: it would delete [\d,]+ of [\d,]+ rows of archon_crawled_pages, [\d,]+ of [\d,]+ of archon_code_examples .* \(--max-delete\)/);
    assert.match(dry.stdout, /In remote .* this deletes [\d,]+ rows of archon_crawled_pages, [\d,]+ of archon_code_examples/);

    const whole = await snapshot(p.remote.server, p.remote.database);
    const refused = await cron(p, '--skip-confirm');
    // The failure contract: exit 3, one line, no password, the target identical, the history row failed, nothing left.
    await assertFailure(refused, {
      code: 3, history: 'failed', target: { server: p.remote.server, database: p.remote.database, before: whole },
      message: /^archon-sync: refused: this run would delete [\d,]+ of [\d,]+ rows of archon_crawled_pages \(100 %\), [\d,]+ of [\d,]+ of archon_code_examples \(100 %\) in the target .* raise --max-delete to allow it$/,
    });
    const failed = jsonLines(refused.stdout).find((l) => l.event === 'failed');
    assert.equal(failed?.failure, 'delete-guard');
    assert.deepEqual(await fingerprintDatabase(p.remote.server, p.remote.database, ALL_TABLES), before);

    const allowed = await cron(p, '--skip-confirm', '--max-delete=100');
    assert.equal(allowed.code, 0, allowed.stderr);
    await assertEqual(p.local, p.remote);
  });

  test('under cron a row the target wrote since the last sync is refused, named; --target-changes=overwrite overwrites it; the JSON says so', async () => {
    const p = await synced(263);
    const [row] = await ownerSql(p.remote.server, p.remote.database, `INSERT INTO archon_settings (key, value) VALUES ('remote-only', 'mine') RETURNING id::text AS id`);
    const whole = await snapshot(p.remote.server, p.remote.database);
    const refused = await cron(p, '--skip-confirm');
    await assertFailure(refused, {
      code: 3, history: 'failed', target: { server: p.remote.server, database: p.remote.database, before: whole },
      message: new RegExp(`refused: the target .* has 1 row of its own written since the last sync .* archon_settings: 1 inserted \\(id=${String(row?.id)}\\).* --target-changes=overwrite`),
    });
    const plan = jsonLines(refused.stdout).find((l) => l.event === 'plan');
    assert.equal(plan, undefined, 'refused before the plan is confirmed');

    const dry = await runCli(['--direction=local-to-remote', '--dry-run', '--json'], { env: p.env, guarded: true });
    const preview = (jsonLines(dry.stdout).find((l) => l.event === 'plan')?.preview as { targetEdits: { inserted: number; tables: { keys: string[] }[] } });
    assert.equal(preview.targetEdits.inserted, 1);
    assert.deepEqual(preview.targetEdits.tables[0]?.keys, [`id=${String(row?.id)}`]);

    const overwritten = await cron(p, '--skip-confirm', '--target-changes=overwrite');
    assert.equal(overwritten.code, 0, overwritten.stderr);
    const done = jsonLines(overwritten.stdout).find((l) => l.event === 'completed') as { targetEdits: { inserted: number } } | undefined;
    assert.equal(done?.targetEdits.inserted, 1);
    await assertEqual(p.local, p.remote);
  });

  test('on a terminal the prompt repeats the destructive totals and names the target\'s own edits before asking', async () => {
    const p = await synced(265);
    await ownerSql(p.local.server, p.local.database, 'DELETE FROM archon_code_examples WHERE ctid IN (SELECT ctid FROM archon_code_examples LIMIT 1)');
    await ownerSql(p.remote.server, p.remote.database, `UPDATE archon_settings SET value = 'edited on the remote' WHERE id = (SELECT min(id::text)::uuid FROM archon_settings)`);
    const before = await fingerprintDatabase(p.remote.server, p.remote.database, ALL_TABLES);
    const result = await runCliInPty(['--direction=local-to-remote'], { env: p.env, guarded: true, answer: { when: /Type "yes" to continue: /, keys: 'no\r' } });
    assert.equal(result.code, 5, result.raw);
    // Joined without breaks: a long line wraps on the 120-column terminal.
    const screen = result.screen.join('');
    assert.match(screen, /has 1 row of its own written since the last sync that this run overwrites:/);
    assert.match(screen, /archon_settings: 1 updated — id=/);
    assert.match(screen, /deletes 1 row of archon_code_examples.*overwrites 1 row the remote database wrote itself since the last sync \(archon_settings; listed above\)/);
    assert.deepEqual(await fingerprintDatabase(p.remote.server, p.remote.database, ALL_TABLES), before);
  });

  test('--tables mistakes are errors naming the name (exit 1); an Archon table absent on both sides is skipped; an outside table on both sides is marked', async () => {
    const p = await synced(267);
    const one = async (tables: string[], expected: RegExp) => {
      const result = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty', ...tables.map((t) => `--tables=${t}`)], { env: p.env, guarded: true });
      assert.equal(result.code, 1, `${tables.join(',')}: ${result.stderr}`);
      assert.match(errorLine(result), expected);
    };
    await one([''], /--tables names no table/);
    await one(['archon_sourcez'], /public\.archon_sourcez \(on neither side\) is not an Archon table/);
    await one(['public.archon_sources'], /table "public\.archon_sources" is schema-qualified/);
    await one(['Archon_Sources'], /table "Archon_Sources" is mis-cased; the Archon table is archon_sources/);
    await ownerSql(p.remote.server, p.remote.database, 'CREATE TABLE notes_outside (id int PRIMARY KEY)');
    await one(['notes_outside'], /public\.notes_outside \(only on the target\) is not an Archon table/);
    await ownerSql(p.local.server, p.local.database, 'CREATE TABLE notes_outside (id int PRIMARY KEY); INSERT INTO notes_outside VALUES (1)');
    const named = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty', '--tables=notes_outside,archon_sources'], { env: p.env, guarded: true });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout + named.stderr, /public\.notes_outside is not an Archon table; copied because it was named/);
  });
});
