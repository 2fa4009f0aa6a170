// Content verification: verify() and `archon-sync verify` name exactly the rows that differ; sync --verify=checksum rolls back.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sync, verify, ValidationError, VerificationError, ARCHON_TABLES, type TableComparison } from '../../src/index.js';
import { jsonLines, runCli } from '../support/cli.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { tamperWith } from '../support/tamper-proxy.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

async function syncedPair(seed: number) {
  const [source, target] = await Promise.all([filledDatabase(servers.source, seed), filledDatabase(servers.target, seed + 1)]);
  const uris = { source: servers.source.ownerUri(source), target: servers.target.ownerUri(target) };
  await sync({ ...UNGUARDED, ...uris });
  return { source, target, uris };
}

function byTable(tables: TableComparison[]): Record<string, TableComparison> {
  return Object.fromEntries(tables.map((t) => [t.table, t]));
}

describe('verify', () => {
  test('reports every one of the 17 tables equal after a sync', async () => {
    const db = await syncedPair(1);
    const result = await verify(db.uris);
    assert.equal(result.equal, true);
    assert.equal(result.tables.length, 17);
    for (const table of result.tables) {
      assert.equal(table.equal, true, table.table);
      assert.equal(table.method, 'keyed', `${table.table} has a primary key`);
      assert.equal(table.sourceRows, table.targetRows);
    }
    assert.ok(result.tables.every((t) => t.sourceRows > 0));
  });

  test('a target that cannot hold temporary tables (read-only by default) is compared row by row, and verify says so', async () => {
    const db = await syncedPair(3);
    await ownerSql(servers.target, db.target, `UPDATE archon_settings SET value = 'edited' WHERE key = (SELECT min(key) FROM archon_settings)`);
    await ownerSql(servers.target, db.target, `ALTER DATABASE "${db.target}" SET default_transaction_read_only = on`);
    const result = await verify(db.uris);
    assert.equal(result.equal, false);
    assert.equal(byTable(result.tables).archon_settings?.differing.count, 1);
    assert.match(result.readEveryRow?.archon_settings ?? '', /cannot hold temporary tables/);
  });

  test('names exactly the rows changed on the target: a vector component, a jsonb key, a microsecond, a deleted and an added row', async () => {
    const db = await syncedPair(3);
    const [vectorRow] = await ownerSql(servers.target, db.target, `SELECT id::text FROM archon_crawled_pages WHERE embedding_1536 IS NOT NULL ORDER BY id LIMIT 1`);
    await ownerSql(servers.target, db.target, `UPDATE archon_crawled_pages SET embedding_1536 = (
        SELECT array_agg(CASE WHEN ord = 7 THEN v + 0.001 ELSE v END ORDER BY ord)::vector(1536) FROM unnest(embedding_1536::real[]) WITH ORDINALITY u(v, ord))
      WHERE id = $1`, [vectorRow?.id]);
    const [sourceRow] = await ownerSql(servers.target, db.target, `SELECT source_id FROM archon_sources ORDER BY source_id LIMIT 1`);
    await ownerSql(servers.target, db.target, `UPDATE archon_sources SET metadata = metadata || '{"tampered": true}' WHERE source_id = $1`, [sourceRow?.source_id]);
    const [historyRow, deletedRow] = await ownerSql(servers.target, db.target, `SELECT id::text FROM archon_task_history ORDER BY id LIMIT 2`);
    await ownerSql(servers.target, db.target, `UPDATE archon_task_history SET changed_at = changed_at + interval '1 microsecond' WHERE id = $1`, [historyRow?.id]);
    await ownerSql(servers.target, db.target, `DELETE FROM archon_task_history WHERE id = $1`, [deletedRow?.id]);
    await ownerSql(servers.target, db.target, `INSERT INTO archon_migrations (id, version, migration_name) VALUES ('00000000-0000-4000-8000-00000000beef', '9.9.9', 'only on target')`);

    const result = await verify(db.uris);
    assert.equal(result.equal, false);
    const tables = byTable(result.tables);
    assert.deepEqual(tables.archon_crawled_pages?.differing, { count: 1, keys: [`id=${String(vectorRow?.id)}`] });
    assert.deepEqual(tables.archon_sources?.differing, { count: 1, keys: [`source_id=${String(sourceRow?.source_id)}`] });
    assert.deepEqual(tables.archon_task_history?.differing, { count: 1, keys: [`id=${String(historyRow?.id)}`] });
    assert.deepEqual(tables.archon_task_history?.onlyOnSource, { count: 1, keys: [`id=${String(deletedRow?.id)}`] });
    assert.deepEqual(tables.archon_migrations?.onlyOnTarget, { count: 1, keys: ['id=00000000-0000-4000-8000-00000000beef'] });
    const unequal = result.tables.filter((t) => !t.equal).map((t) => t.table).sort();
    assert.deepEqual(unequal, ['archon_crawled_pages', 'archon_migrations', 'archon_sources', 'archon_task_history']);

    const cli = await runCli(['verify', '--direction=local-to-remote', '--log-format=json'], {
      env: { LOCAL_DATABASE_URI: db.uris.source, REMOTE_DATABASE_URI: db.uris.target },
    });
    assert.equal(cli.code, 4, cli.stderr);
    const report = jsonLines(cli.stdout).find((l) => l.event === 'verified') as { equal: boolean; tables: TableComparison[] };
    assert.equal(report.equal, false);
    assert.deepEqual(byTable(report.tables).archon_task_history?.onlyOnSource.keys, [`id=${String(deletedRow?.id)}`]);
    const pretty = await runCli(['verify', '--direction=local-to-remote', '--log-format=pretty'], {
      env: { LOCAL_DATABASE_URI: db.uris.source, REMOTE_DATABASE_URI: db.uris.target },
    });
    assert.equal(pretty.code, 4);
    assert.match(pretty.stdout, new RegExp(`archon_crawled_pages differing \\(1\\): id=${String(vectorRow?.id)}`));
    assert.match(pretty.stdout, /NOT equal: 4 of 17 tables differ/);
  });

  test('the CLI exits 0 when equal; column order does not matter and a one-sided column is reported, not hashed', async () => {
    const db = await syncedPair(5);
    await ownerSql(servers.target, db.target, `ALTER TABLE archon_prompts ADD COLUMN only_here text DEFAULT 'x'`);
    // Move a column to the end on the target only: same name, same values, another position.
    await ownerSql(servers.target, db.target, `
      ALTER TABLE archon_sources ADD COLUMN title_copy text; UPDATE archon_sources SET title_copy = title;
      ALTER TABLE archon_sources DROP COLUMN title; ALTER TABLE archon_sources RENAME COLUMN title_copy TO title`);
    const cli = await runCli(['verify', '--direction=local-to-remote', '--log-format=pretty'], {
      env: { LOCAL_DATABASE_URI: db.uris.source, REMOTE_DATABASE_URI: db.uris.target },
    });
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /archon_prompts: columns only on the target, not compared: only_here/);
    assert.match(cli.stdout, /equal: every row of 17 tables matches/);
  });

  test('refuses, like sync, when row-level security hides rows from the role on either side, instead of reporting them missing', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 16), filledDatabase(servers.target, 16)]);
    const uris = { source: servers.source.ownerUri(source), target: servers.target.ownerUri(target) };
    assert.equal((await verify(uris)).equal, true, 'equal twins to start from');
    for (const [server, database, side] of [[servers.target, target, 'target'], [servers.source, source, 'source']] as const) {
      await ownerSql(server, database, `ALTER TABLE archon_settings ENABLE ROW LEVEL SECURITY; ALTER TABLE archon_settings FORCE ROW LEVEL SECURITY;
        CREATE POLICY only_some ON archon_settings USING (key < 'm')`);
      await assert.rejects(verify(uris), (error: unknown) => {
        assert.ok(error instanceof ValidationError, String(error));
        assert.match(error.message, new RegExp(`row-level security hides rows of public\\.archon_settings from role "archon_owner" on the ${side}`));
        return true;
      });
      const cli = await runCli(['verify', '--direction=local-to-remote', '--log-format=json'], { env: { LOCAL_DATABASE_URI: uris.source, REMOTE_DATABASE_URI: uris.target } });
      assert.equal(cli.code, 3, cli.stderr);
      await ownerSql(server, database, 'DROP POLICY only_some ON archon_settings; ALTER TABLE archon_settings NO FORCE ROW LEVEL SECURITY; ALTER TABLE archon_settings DISABLE ROW LEVEL SECURITY');
    }
  });

  test('a table without a primary key is compared as a whole', async () => {
    const db = await syncedPair(7);
    for (const [server, name] of [[servers.source, db.source], [servers.target, db.target]] as const) {
      await ownerSql(server, name, 'ALTER TABLE archon_llm_pricing DROP CONSTRAINT archon_llm_pricing_pkey');
    }
    const equal = await verify({ ...db.uris, tables: ['archon_llm_pricing'] });
    assert.deepEqual(equal.tables.map((t) => [t.method, t.equal]), [['aggregate', true]]);
    await ownerSql(servers.target, db.target, `UPDATE archon_llm_pricing SET notes = 'changed' WHERE id = (SELECT min(id) FROM archon_llm_pricing)`);
    const differs = await verify({ ...db.uris, tables: ['archon_llm_pricing'] });
    assert.deepEqual(differs.tables.map((t) => [t.method, t.equal]), [['aggregate', false]]);
  });

  test('sync --verify=checksum catches a row changed on its way to the target, rolls back and names it', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 9), filledDatabase(servers.target, 10)]);
    const uris = { source: servers.source.ownerUri(source), target: servers.target.ownerUri(target) };
    // A marker in one source row that a proxy in front of the target rewrites in flight (same length).
    await ownerSql(servers.source, source, `UPDATE archon_prompts SET prompt = prompt || ' TAMPER-ME-PLEASE' WHERE prompt_name = (SELECT min(prompt_name) FROM archon_prompts)`);
    const before = await fingerprintDatabase(servers.target, target);
    const { proxy, uri } = await tamperWith(uris.target, [{ from: 'TAMPER-ME-PLEASE', to: 'TAMPERED-IN-FLOW' }]);
    try {
      await assert.rejects(sync({ ...UNGUARDED, source: uris.source, target: uri, verify: 'checksum' }), (error: unknown) => {
        assert.ok(error instanceof VerificationError);
        assert.match(error.message, /row contents differ after copying: archon_prompts has 1 differing \(e\.g\. id=[0-9a-f-]{36}\)/);
        return true;
      });
      assert.ok(proxy.replaced > 0, 'the fault was injected');
      assert.deepEqual(await fingerprintDatabase(servers.target, target), before);

      const cli = await runCli(['--direction=local-to-remote', '--skip-confirm', '--verify=checksum', '--log-format=json'], {
        env: { LOCAL_DATABASE_URI: uris.source, REMOTE_DATABASE_URI: uri },
      });
      assert.equal(cli.code, 4, cli.stderr);
      const [row] = await ownerSql(servers.target, target, `SELECT status, verification_results FROM archon_sync_history ORDER BY started_at DESC LIMIT 1`);
      assert.equal(row?.status, 'failed');
      const results = row?.verification_results as Record<string, { checksum?: { differing: { count: number } } }>;
      assert.equal(results.archon_prompts?.checksum?.differing.count, 1);
      // The same change is invisible to the default count verification: that is what checksum is for.
      await sync({ ...UNGUARDED, source: uris.source, target: uri });
    } finally {
      await proxy.close();
    }

    const clean = await runCli(['--direction=local-to-remote', '--skip-confirm', '--verify=checksum', '--log-format=json'], {
      env: { LOCAL_DATABASE_URI: uris.source, REMOTE_DATABASE_URI: uris.target },
    });
    assert.equal(clean.code, 0, clean.stderr);
    assert.ok(jsonLines(clean.stdout).some((l) => l.event === 'table-end' && l.phase === 'verification'));
    const [a, b] = await Promise.all([fingerprintDatabase(servers.source, source, ARCHON_TABLES), fingerprintDatabase(servers.target, target, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });
});
