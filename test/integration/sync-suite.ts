// The engine's behaviour on real clusters, run directly and again with PgBouncer (transaction mode) in front of the target.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sync, plan, CopyError, ValidationError, VerificationError, CancelledError, ARCHON_TABLES, type SyncEvent } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { testServers, type TestServers } from '../support/servers.js';
import { rowsIntoShadowTable, tamperWith } from '../support/tamper-proxy.js';
import { UNGUARDED } from '../support/unguarded.js';

export function defineSyncSuite(options: { targetThroughPgBouncer: boolean }): void {
  let servers: TestServers;
  let bouncer: PgBouncer | undefined;

  before(async () => {
    servers = await testServers();
    if (options.targetThroughPgBouncer) {
      if (!servers.target.cluster) throw new Error('the PgBouncer suite needs a harness-started target cluster');
      bouncer = await startPgBouncer(servers.target.cluster, 'transaction');
    }
  });
  after(async () => {
    await bouncer?.stop();
    await servers?.close();
  });

  /** The URI archon-sync gets for the target: through PgBouncer when this suite says so. */
  const targetUri = (database: string) => bouncer ? bouncer.uri(database) : servers.target.ownerUri(database);

  async function pair(sourceSeed: number | undefined, targetSeed: number | undefined) {
    const [source, target] = await Promise.all([
      filledDatabase(servers.source, sourceSeed, undefined, 'src'),
      filledDatabase(servers.target, targetSeed, undefined, 'dst'),
    ]);
    return { source, target, sourceUri: servers.source.ownerUri(source), targetUri: targetUri(target) };
  }

  async function assertEqual(source: string, target: string, tables: readonly string[] = ARCHON_TABLES) {
    const [a, b] = await Promise.all([
      fingerprintDatabase(servers.source, source, tables),
      fingerprintDatabase(servers.target, target, tables),
    ]);
    for (const table of tables) assert.deepEqual(b[table], a[table], `${table} differs after the sync`);
  }

  describe(`sync engine${options.targetThroughPgBouncer ? ' (target through PgBouncer, transaction mode)' : ''}`, () => {
    test('makes every one of the 17 tables equal to the source, over a target that held other data, twice', async () => {
      const db = await pair(11, 22);
      const before = await fingerprintDatabase(servers.source, db.source, ARCHON_TABLES);
      for (const table of ARCHON_TABLES) assert.ok((before[table]?.rows ?? 0) > 0, `generator left ${table} empty`);
      const first = await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      assert.equal(first.tables.length, 17);
      await assertEqual(db.source, db.target);
      const second = await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri, mode: 'full' });
      assert.deepEqual(second.tables.map((t) => t.copiedRows), first.tables.map((t) => t.copiedRows));
      await assertEqual(db.source, db.target);
      // In the default mode a third run over equal databases moves no row.
      const third = await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      assert.deepEqual(third.tables.map((t) => [t.mode, t.copiedRows]), first.tables.map(() => ['incremental', 0]));
      await assertEqual(db.source, db.target);
    });

    test('copies in the other direction too (target side as source)', async () => {
      const db = await pair(33, 44);
      // Swap roles: the target server's database is the source now.
      const reverseSource = targetUri(db.target);
      await sync({ ...UNGUARDED, source: reverseSource, target: db.sourceUri });
      const [a, b] = await Promise.all([
        fingerprintDatabase(servers.target, db.target, ARCHON_TABLES),
        fingerprintDatabase(servers.source, db.source, ARCHON_TABLES),
      ]);
      assert.deepEqual(b, a);
    });

    test('keeps hierarchy_path verbatim and lets no trigger write task history, with and without the replica role', async () => {
      for (const allowed of [true, false]) {
        await servers.target.allowReplicationRole(allowed);
        try {
          const db = await pair(55, undefined);
          const events: SyncEvent[] = [];
          const result = await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri, onEvent: (e) => events.push(e) });
          assert.equal(result.triggerSuppression, allowed ? 'replica-role' : 'disabled-triggers');
          await assertEqual(db.source, db.target);
          const paths = await ownerSql(servers.target, db.target, `SELECT count(*)::int AS n FROM archon_projects WHERE hierarchy_path::text LIKE 'p\\_%'`);
          const sourcePaths = await ownerSql(servers.source, db.source, `SELECT count(*)::int AS n FROM archon_projects WHERE hierarchy_path::text LIKE 'p\\_%'`);
          assert.equal(paths[0]?.n, sourcePaths[0]?.n, 'the insert trigger rewrote hierarchy_path');
          const triggers = await ownerSql(servers.target, db.target,
            `SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'O' AND tgrelid::regclass::text LIKE 'archon_%'`);
          assert.equal(triggers[0]?.n, 0, 'a trigger was left disabled');
        } finally {
          await servers.target.allowReplicationRole(true);
        }
      }
    });

    test('recomputes generated columns, sets every sequence past the copied ids, and rebuilds every index valid', async () => {
      const db = await pair(66, 77);
      const indexSql = `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def, indisvalid
                          FROM pg_index WHERE indrelid::regclass::text LIKE 'archon_%' ORDER BY 1`;
      const indexesBefore = await ownerSql(servers.target, db.target, indexSql);
      await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      const indexesAfter = await ownerSql(servers.target, db.target, indexSql);
      assert.deepEqual(indexesAfter, indexesBefore);
      assert.ok(indexesAfter.every((i) => i.indisvalid === true));
      for (const table of ['archon_crawled_pages', 'archon_code_examples']) {
        const stale = await ownerSql(servers.target, db.target,
          `SELECT count(*)::int AS n, count(content_search_vector)::int AS filled FROM ${table}`);
        assert.ok(Number(stale[0]?.filled) > 0 && stale[0]?.filled === stale[0]?.n, `${table}.content_search_vector not recomputed`);
      }
      const tsv = await ownerSql(servers.target, db.target,
        `SELECT count(*)::int AS n FROM archon_crawled_pages WHERE content_search_vector IS DISTINCT FROM to_tsvector('english', content)`);
      assert.equal(tsv[0]?.n, 0);
      await ownerSql(servers.target, db.target,
        `INSERT INTO archon_crawled_pages (url, chunk_number, content, source_id) SELECT 'https://new.example/x', 1, 'new', source_id FROM archon_sources LIMIT 1`);
      await ownerSql(servers.target, db.target,
        `INSERT INTO archon_code_examples (url, chunk_number, content, summary, source_id) SELECT 'https://new.example/y', 1, 'c', 's', source_id FROM archon_sources LIMIT 1`);
      await ownerSql(servers.target, db.target,
        `INSERT INTO archon_llm_pricing (model_name, provider, input_price_per_1k, output_price_per_1k) VALUES ('new-model', 'new', 1, 2)`);
      const explain = await servers.target.asOwner(db.target, async (client) => {
        await client.query('SET enable_seqscan = off');
        const r = await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN SELECT id FROM archon_crawled_pages ORDER BY embedding_1536 <=> $1::vector LIMIT 5`,
          [`[${new Array(1536).fill(0.01).join(',')}]`],
        );
        return r.rows.map((row) => row['QUERY PLAN']).join('\n');
      });
      assert.match(explain, /idx_archon_crawled_pages_embedding_1536_hnsw/);
    });

    test('keeps rows of a table outside the 17 that references archon_projects', async () => {
      const db = await pair(88, 88);
      await ownerSql(servers.target, db.target,
        `INSERT INTO archon_sprints (id, project_id, name) SELECT gen_random_uuid(), id, 'sprint of ' || title FROM archon_projects`);
      const sprintsBefore = await fingerprintDatabase(servers.target, db.target, ['archon_sprints']);
      assert.ok((sprintsBefore.archon_sprints?.rows ?? 0) > 0);
      const result = await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      assert.ok(result.warnings.some((w) => w.includes('archon_sprints')));
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target, ['archon_sprints']), sprintsBefore);
      await assertEqual(db.source, db.target);
      const fk = await ownerSql(servers.target, db.target,
        `SELECT convalidated FROM pg_constraint WHERE conrelid = 'archon_sprints'::regclass AND contype = 'f'`);
      assert.deepEqual(fk, [{ convalidated: true }]);
    });

    test('fails naming the outside table and key when its project is not in the source, and changes nothing', async () => {
      const db = await pair(99, 98);
      await ownerSql(servers.target, db.target,
        `INSERT INTO archon_sprints (id, project_id, name) SELECT '00000000-0000-4000-8000-000000000001', id, 'orphan' FROM archon_projects LIMIT 1`);
      const before = await fingerprintDatabase(servers.target, db.target);
      await assert.rejects(sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri }), (error: unknown) => {
        assert.ok(error instanceof CopyError);
        assert.match(error.message, /archon_sprints/);
        assert.match(error.message, /project_id=/);
        assert.ok(error.constraint);
        return true;
      });
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
    });

    test('fails naming the constraint when a copied row points at a key missing from a table outside the 17', async () => {
      const db = await pair(12, undefined);
      await ownerSql(servers.source, db.source, `INSERT INTO archon_workflow_stages (id, name) VALUES ('00000000-0000-4000-8000-00000000abcd', 'only on source')`);
      await ownerSql(servers.source, db.source, `UPDATE archon_tasks SET workflow_stage_id = '00000000-0000-4000-8000-00000000abcd' WHERE id = (SELECT id FROM archon_tasks ORDER BY id LIMIT 1)`);
      const before = await fingerprintDatabase(servers.target, db.target);
      for (const allowed of [true, false]) {
        await servers.target.allowReplicationRole(allowed);
        try {
          await assert.rejects(sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri }), (error: unknown) => {
            assert.ok(error instanceof CopyError, String(error));
            assert.match(error.message, /archon_tasks_workflow_stage_id_fkey/);
            return true;
          });
        } finally {
          await servers.target.allowReplicationRole(true);
        }
        assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
      }
    });

    test('copies correctly when a column sits at a different position on each side', async () => {
      const db = await pair(13, 14);
      // On the target, re-create project columns in another order: drop and re-add one (it moves to the end).
      await ownerSql(servers.target, db.target, `ALTER TABLE archon_projects DROP COLUMN github_repo; ALTER TABLE archon_projects ADD COLUMN github_repo text`);
      await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      await assertEqual(db.source, db.target);
    });

    test('copies a table with an array of a user-defined type in text format and says so in the plan', async () => {
      const db = await pair(15, 16);
      for (const [server, name] of [[servers.source, db.source], [servers.target, db.target]] as const) {
        await ownerSql(server, name, `ALTER TABLE archon_tasks ADD COLUMN past_statuses task_status[]`);
      }
      await ownerSql(servers.source, db.source, `UPDATE archon_tasks SET past_statuses = ARRAY['todo','doing']::task_status[]`);
      const dry = await plan({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      const tasks = dry.tables.find((t) => t.name === 'archon_tasks');
      assert.equal(tasks?.format, 'text');
      assert.match(tasks?.formatReason ?? '', /past_statuses/);
      await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      await assertEqual(db.source, db.target);
    });

    test('leaves the target byte-identical when the 12th table fails to load', async () => {
      const db = await pair(17, 18);
      const order = (await plan({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri })).tables.map((t) => t.name);
      const twelfth = order[11];
      assert.equal(twelfth, 'archon_crawled_pages');
      // A target-only CHECK that some source rows break: COPY enforces it even with triggers off.
      await ownerSql(servers.target, db.target, `ALTER TABLE archon_crawled_pages ADD CONSTRAINT only_small_chunks CHECK (chunk_number < 2) NOT VALID`);
      const before = await fingerprintDatabase(servers.target, db.target);
      await assert.rejects(sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri }), (error: unknown) => {
        assert.ok(error instanceof CopyError);
        assert.equal(error.table, 'public.archon_crawled_pages');
        assert.match(error.message, /only_small_chunks/);
        return true;
      });
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
    });

    test('rolls back and reports a verification error when the target count differs before commit', async () => {
      const db = await pair(19, 20);
      await ownerSql(servers.target, db.target, 'CREATE TABLE archon_prompt2 (LIKE archon_prompts)');
      const before = await fingerprintDatabase(servers.target, db.target);
      const { proxy, uri } = await tamperWith(db.targetUri, rowsIntoShadowTable('archon_prompts', 'archon_prompt2'));
      try {
        await assert.rejects(sync({ ...UNGUARDED, source: db.sourceUri, target: uri }), (error: unknown) => {
          assert.ok(error instanceof VerificationError, String(error));
          assert.match(error.message, /row counts differ after copying \(public\.archon_prompts: source \d+, copied \d+, target 0\)/);
          return true;
        });
      } finally {
        await proxy.close();
      }
      assert.ok(proxy.replaced > 0, 'the fault was injected');
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
    });

    test('plan reads both sides and writes nothing to either', async () => {
      const db = await pair(21, 22);
      const [s0, t0] = await Promise.all([fingerprintDatabase(servers.source, db.source), fingerprintDatabase(servers.target, db.target)]);
      const result = await plan({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri });
      assert.deepEqual(result.tables.map((t) => t.name).slice(0, 3), ['archon_settings', 'archon_migrations', 'archon_prompts']);
      assert.equal(result.source.pooler, 'direct');
      assert.equal(result.target.pooler, options.targetThroughPgBouncer ? 'pooler or proxy' : 'direct');
      assert.equal(result.target.ssl, false);
      assert.match(result.target.versionShort, /^15\./);
      // The same facts, as people read them in the CLI's plan.
      const shown = await runCli(['--direction=local-to-remote', '--dry-run', '--log-format=pretty'],
        { env: { LOCAL_DATABASE_URI: db.sourceUri, REMOTE_DATABASE_URI: db.targetUri } });
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^ {2}source: PostgreSQL 15\.\d+[^,]*, no TLS, direct, role archon_owner$/m);
      const targetPooler = options.targetThroughPgBouncer ? 'pooler or proxy' : 'direct';
      assert.match(shown.stdout, new RegExp(`^ {2}target: PostgreSQL 15\\.\\d+[^,]*, no TLS, ${targetPooler}, role archon_owner$`, 'm'));
      assert.equal(result.totalRows, Object.values(s0).slice(0, 17).reduce((sum, f) => sum + f.rows, 0));
      const crawled = result.tables.find((t) => t.name === 'archon_crawled_pages');
      assert.ok(crawled && crawled.indexes.some((i) => i.method === 'hnsw') && crawled.indexes.some((i) => i.method === 'ivfflat'));
      assert.ok(crawled.sequences.length === 1);
      assert.ok(!crawled.columns.includes('content_search_vector'));
      const [s1, t1] = await Promise.all([fingerprintDatabase(servers.source, db.source), fingerprintDatabase(servers.target, db.target)]);
      assert.deepEqual(s1, s0);
      assert.deepEqual(t1, t0);
    });

    test('refuses a source column type that differs on the target, naming table, column and both types, before writing', async () => {
      const db = await pair(23, 24);
      await ownerSql(servers.target, db.target, `DROP INDEX idx_archon_code_examples_embedding_768; ALTER TABLE archon_code_examples ALTER COLUMN embedding_768 TYPE vector(1536) USING NULL`);
      const before = await fingerprintDatabase(servers.target, db.target);
      await assert.rejects(sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri }), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.match(error.message, /archon_code_examples\.embedding_768 is vector\(768\) on the source but vector\(1536\) on the target/);
        return true;
      });
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
    });

    test('aborting mid-copy rolls back and rejects with CancelledError', async () => {
      const db = await pair(25, 26);
      const before = await fingerprintDatabase(servers.target, db.target);
      const controller = new AbortController();
      const run = sync({ ...UNGUARDED,
        source: db.sourceUri,
        target: db.targetUri,
        signal: controller.signal,
        onEvent: (e) => { if (e.type === 'table-start' && e.table === 'archon_crawled_pages') controller.abort(); },
      });
      await assert.rejects(run, CancelledError);
      assert.deepEqual(await fingerprintDatabase(servers.target, db.target), before);
    });

    test('emits progress events in phase order with a table-end for every table', async () => {
      const db = await pair(27, undefined);
      const events: SyncEvent[] = [];
      await sync({ ...UNGUARDED, source: db.sourceUri, target: db.targetUri, onEvent: (e) => events.push(e) });
      const phases = events.filter((e) => e.type === 'phase').map((e) => (e as { phase: string }).phase);
      assert.deepEqual([...new Set(phases)], ['validation', 'copy', 'indexing', 'verification']);
      const ends = events.filter((e) => e.type === 'table-end');
      assert.equal(ends.length, 17);
      const last = ends.at(-1) as { syncedRows: number; totalRows: number };
      assert.equal(last.syncedRows, last.totalRows);
    });
  });

}
