// Types whose values mean different things on the two sides (enum labels, a domain's base type, composite
// fields, arrays of them) are refused at validation, before anything is written, naming table, column and both.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sync, ValidationError } from '../../src/index.js';
import { runCli } from '../support/cli.js';
import { fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { rowVersions, side, type Side } from '../support/sides.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

/** What a refused run must leave untouched: where every target row is, which transaction wrote it, and its values. */
async function targetState(target: Side): Promise<unknown> {
  return { versions: await rowVersions(target), fingerprint: await fingerprintDatabase(target.server, target.database) };
}

async function refused(source: Side, target: Side): Promise<ValidationError> {
  const before = await targetState(target);
  const error = await sync({ ...UNGUARDED, source: source.uri, target: target.uri, history: { direction: 'local-to-remote', sourceDb: 'local', targetDb: 'remote' } })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ValidationError, `refused at validation: ${String(error)}`);
  assert.deepEqual(await targetState(target), before, 'the target was written to');
  return error;
}

const STATUS = `'todo', 'doing', 'review', 'done'`;

describe('types that mean different things on the two sides', () => {
  test('an enum label on one side only, or labels in another order, are refused before any write, naming table, column and both definitions', async () => {
    const [source, target] = await Promise.all([side(servers.source, 301, 'a'), side(servers.target, 302, 'b')]);
    await ownerSql(target.server, target.database, `ALTER TYPE task_status ADD VALUE 'blocked'`);
    const oneSided = await refused(source, target);
    assert.equal(oneSided.table, 'public.archon_tasks');
    assert.equal(oneSided.message,
      `public.archon_tasks.status is task_status AS ENUM (${STATUS}) on the source but task_status AS ENUM (${STATUS}, 'blocked') on the target; make the types match before syncing`);

    await ownerSql(source.server, source.database, `ALTER TYPE task_status ADD VALUE 'blocked'`);
    await ownerSql(source.server, source.database, `ALTER TYPE task_priority ADD VALUE 'urgent'`);
    await ownerSql(target.server, target.database, `ALTER TYPE task_priority ADD VALUE 'urgent' BEFORE 'low'`);
    const reordered = await refused(source, target);
    assert.match(reordered.message, /^public\.archon_tasks\.priority is task_priority AS ENUM \('low', 'medium', 'high', 'critical', 'urgent'\) on the source but task_priority AS ENUM \('urgent', 'low', 'medium', 'high', 'critical'\) on the target/);
    assert.deepEqual((reordered.details as { problems?: string[] }).problems?.length, 1, 'the labels now alike on both sides are no problem');
  });

  test('a domain\'s base type, composite fields and arrays of enums that differ are refused, every one named', async () => {
    const [source, target] = await Promise.all([side(servers.source, 303, 'a'), side(servers.target, 304, 'b')]);
    const columns = `ALTER TABLE archon_llm_pricing ADD COLUMN tier price_tier, ADD COLUMN band price_band;
      ALTER TABLE archon_sources ADD COLUMN tags source_tag[]`;
    await ownerSql(source.server, source.database, `CREATE DOMAIN price_tier AS integer; CREATE TYPE price_band AS (low numeric, high numeric);
      CREATE TYPE source_tag AS ENUM ('docs', 'code'); ${columns}`);
    await ownerSql(target.server, target.database, `CREATE DOMAIN price_tier AS bigint; CREATE TYPE price_band AS (high numeric, low numeric);
      CREATE TYPE source_tag AS ENUM ('docs', 'api'); ${columns}`);
    const error = await refused(source, target);
    assert.deepEqual((error.details as { problems?: string[] }).problems?.sort(), [
      'public.archon_llm_pricing.band is price_band AS (low numeric, high numeric) on the source but price_band AS (high numeric, low numeric) on the target; make the types match before syncing',
      'public.archon_llm_pricing.tier is price_tier AS DOMAIN OVER integer on the source but price_tier AS DOMAIN OVER bigint on the target; make the types match before syncing',
      'public.archon_sources.tags is source_tag[] OF source_tag AS ENUM (\'docs\', \'code\') on the source but source_tag[] OF source_tag AS ENUM (\'docs\', \'api\') on the target; make the types match before syncing',
    ]);
  });

  test('types alike on both sides, however built, pass: the run copies them exactly', async () => {
    const [source, target] = await Promise.all([side(servers.source, 305, 'a'), side(servers.target, 306, 'b')]);
    const ddl = `ALTER TYPE task_status ADD VALUE 'blocked';
      CREATE DOMAIN price_tier AS integer CHECK (VALUE > 0); CREATE TYPE price_band AS (low numeric, high numeric, tier price_tier);
      ALTER TABLE archon_llm_pricing ADD COLUMN band price_band, ADD COLUMN history task_status[]`;
    await ownerSql(source.server, source.database, ddl);
    await ownerSql(target.server, target.database, ddl);
    await ownerSql(source.server, source.database, `UPDATE archon_llm_pricing SET band = ROW(input_price_per_1k, output_price_per_1k, 3), history = '{todo,blocked}'`);
    const result = await sync({ ...UNGUARDED, source: source.uri, target: target.uri });
    assert.equal(result.tables.length, 17);
    const [copied] = await ownerSql(target.server, target.database, `SELECT count(*)::int AS n FROM archon_llm_pricing WHERE (band).tier = 3 AND history = '{todo,blocked}'`);
    const [rows] = await ownerSql(source.server, source.database, 'SELECT count(*)::int AS n FROM archon_llm_pricing');
    assert.equal(copied?.n, rows?.n);
  });

  test('the CLI refuses an enum that differs with exit 3 and one line naming table, column and both definitions', async () => {
    const [source, target] = await Promise.all([side(servers.source, 307, 'a'), side(servers.target, 308, 'b')]);
    await ownerSql(source.server, source.database, `ALTER TYPE task_status RENAME VALUE 'review' TO 'in review'`);
    const before = await targetState(target);
    const result = await runCli(['--direction=local-to-remote', '--skip-confirm'], { env: { LOCAL_DATABASE_URI: source.uri, REMOTE_DATABASE_URI: target.uri } });
    assert.equal(result.code, 3, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.ok(lines[0]?.includes(`public.archon_tasks.status is task_status AS ENUM ('todo', 'doing', 'in review', 'done') on the source but task_status AS ENUM (${STATUS}) on the target`), lines[0]);
    assert.deepEqual(await targetState(target), before);
  });
});
