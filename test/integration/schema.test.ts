// The test schema and generator themselves: the awkward shapes the sync tests rely on are really in the data.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { applySchemaFile, schemaSqlPath } from '../../schema/apply.js';
import { filledDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';

let servers: TestServers;
let database: string;
before(async () => {
  servers = await testServers();
  database = await filledDatabase(servers.source, 11);
});
after(async () => { await servers?.close(); });

async function one(sql: string): Promise<Record<string, unknown>> {
  const [row] = await ownerSql(servers.source, database, sql);
  assert.ok(row, `no row from: ${sql}`);
  return row;
}

test('the compiled module finds every schema file', () => {
  for (const file of ['extensions', 'archon', 'sync-history'] as const) assert.ok(existsSync(schemaSqlPath(file)), schemaSqlPath(file));
});

test('sync-history.sql runs again over an existing table and recreates a dropped one', async () => {
  await servers.source.asOwner(database, async (client) => {
    await applySchemaFile(client, 'sync-history');
    await client.query('DROP TABLE archon_sync_history');
    await applySchemaFile(client, 'sync-history');
    await applySchemaFile(client, 'sync-history');
    const { rows } = await client.query<{ triggers: number }>(
      `SELECT count(*)::int AS triggers FROM pg_trigger WHERE tgrelid = 'archon_sync_history'::regclass AND NOT tgisinternal`);
    assert.deepEqual(rows, [{ triggers: 1 }]);
  });
});

test('every chunk has exactly one embedding, of the size embedding_dimension names, and all six sizes occur', async () => {
  for (const table of ['archon_crawled_pages', 'archon_code_examples']) {
    const row = await one(`
      SELECT count(*) FILTER (WHERE num_nonnulls(embedding_384, embedding_768, embedding_1024, embedding_1536, embedding_3072, embedding_3584) <> 1
                                 OR vector_dims(coalesce(embedding_384, embedding_768, embedding_1024, embedding_1536, embedding_3072, embedding_3584)) <> embedding_dimension)::int AS wrong,
             count(DISTINCT embedding_dimension)::int AS sizes,
             (count(*) FILTER (WHERE embedding_1536 IS NOT NULL))::float / count(*) AS share_1536
        FROM ${table}`);
    assert.equal(row.wrong, 0, table);
    assert.equal(row.sizes, 6, table);
    // code_examples is only six rows at the test scale: one of each size.
    if (table === 'archon_crawled_pages') assert.ok(Number(row.share_1536) > 0.7, `1536-d share ${String(row.share_1536)}`);
  }
});

test('values that break naive escaping survive the load', async () => {
  const row = await one(`
    SELECT bool_or(strpos(content, E'\\t') > 0) AS tab, bool_or(strpos(content, E'\\r\\n') > 0) AS crlf,
           bool_or(strpos(content, E'\\\\') > 0) AS backslash, bool_or(strpos(content, '\\N') > 0) AS copy_null,
           bool_or(strpos(content, '👩‍💻') > 0) AS emoji, bool_or(strpos(content, '数据库') > 0) AS cjk,
           bool_or(strpos(content, '''') > 0) AS quote
      FROM archon_crawled_pages`);
  assert.deepEqual(row, { tab: true, crlf: true, backslash: true, copy_null: true, emoji: true, cjk: true, quote: true });
});

test('hierarchy paths are explicit values the insert trigger would not produce', async () => {
  const row = await one(`
    SELECT count(*) FILTER (WHERE hierarchy_path::text LIKE 'root.team_%')::int AS explicit,
           count(*) FILTER (WHERE hierarchy_path IS NULL)::int AS missing
      FROM archon_projects`);
  assert.ok(Number(row.explicit) >= 2);
  assert.equal(row.missing, 0);
});

test('crawl_state holds jsonb string scalars and a result set of about 100 KB', async () => {
  const row = await one(`
    SELECT bool_or(jsonb_typeof(pending_urls) = 'string') AS pending_string,
           bool_or(jsonb_typeof(visited_urls) = 'string') AS visited_string,
           max(octet_length(crawl_results::text)) AS largest
      FROM archon_crawl_state`);
  assert.equal(row.pending_string, true);
  assert.equal(row.visited_string, true);
  assert.ok(Number(row.largest) >= 90_000, `largest crawl_results ${String(row.largest)} bytes`);
});

test('tasks nest at least two levels, use every enum value, and never point outside the 17 tables', async () => {
  const row = await one(`
    SELECT (SELECT count(*) FROM archon_tasks child JOIN archon_tasks parent ON parent.id = child.parent_task_id
             WHERE parent.parent_task_id IS NOT NULL)::int AS grandchildren,
           (SELECT count(DISTINCT status) FROM archon_tasks)::int AS statuses,
           (SELECT count(DISTINCT priority) FROM archon_tasks)::int AS priorities,
           (SELECT count(*) FROM archon_tasks WHERE sprint_id IS NOT NULL OR workflow_stage_id IS NOT NULL)::int AS outside`);
  assert.ok(Number(row.grandchildren) >= 1);
  assert.deepEqual([row.statuses, row.priorities, row.outside], [4, 4, 0]);
});

test('document versions belong to projects and to tasks; some chunks have no page', async () => {
  const row = await one(`
    SELECT (SELECT count(*) FROM archon_document_versions WHERE project_id IS NOT NULL)::int AS by_project,
           (SELECT count(*) FROM archon_document_versions WHERE task_id IS NOT NULL)::int AS by_task,
           (SELECT count(*) FROM archon_crawled_pages WHERE page_id IS NULL)::int AS without_page,
           (SELECT count(*) FROM archon_crawled_pages WHERE page_id IS NOT NULL)::int AS with_page`);
  assert.ok(Number(row.by_project) >= 1 && Number(row.by_task) >= 1);
  assert.ok(Number(row.without_page) >= 1 && Number(row.with_page) > Number(row.without_page));
});

test('sequences continue after the generated ids', async () => {
  for (const table of ['archon_crawled_pages', 'archon_code_examples', 'archon_llm_pricing']) {
    const row = await one(`SELECT (SELECT last_value FROM ${table}_id_seq) = (SELECT max(id) FROM ${table}) AS aligned`);
    assert.equal(row.aligned, true, table);
  }
});
