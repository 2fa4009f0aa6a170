// schema/sync-history.sql is idempotent in the strong sense: on a table that is already right it changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { readSchemaSql } from '../../schema/apply.js';
import { testServers, type TestServer, type TestServers } from '../support/servers.js';

let servers: TestServers;
let server: TestServer;
let ddl: string;

before(async () => {
  servers = await testServers();
  server = servers.target;
  ddl = await readSchemaSql('sync-history');
});
after(async () => { await servers?.close(); });

/**
 * The table as Archon's migration 0.3.0/021 makes it (docs: archon-schema.md §4): the same columns as ours, its
 * own five indexes and its own BEFORE UPDATE trigger. Its RLS policies name Supabase roles the test servers do
 * not have (service_role, authenticated), so RLS is enabled without them.
 */
const ARCHON_MIGRATION_021 = `
  CREATE TABLE archon_sync_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sync_id text UNIQUE NOT NULL,
    direction text NOT NULL CHECK (direction IN ('local-to-remote', 'remote-to-local', 'bidirectional')),
    status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    duration_seconds integer,
    total_rows integer,
    synced_rows integer,
    current_table text,
    current_phase text,
    percent_complete integer DEFAULT 0 CHECK (percent_complete >= 0 AND percent_complete <= 100),
    tables_synced jsonb DEFAULT '[]'::jsonb,
    verification_results jsonb DEFAULT '{}'::jsonb,
    error_message text,
    error_details jsonb DEFAULT '{}'::jsonb,
    export_size_mb numeric(10, 2),
    import_duration_seconds integer,
    export_duration_seconds integer,
    indexing_duration_seconds integer,
    triggered_by text DEFAULT 'User',
    backup_file_path text,
    source_db text,
    target_db text,
    metadata jsonb DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX idx_sync_history_started ON archon_sync_history (started_at DESC);
  CREATE INDEX idx_sync_history_status ON archon_sync_history (status) WHERE status IN ('running', 'failed');
  CREATE INDEX idx_sync_history_direction ON archon_sync_history (direction, started_at DESC);
  CREATE INDEX idx_sync_history_triggered_by ON archon_sync_history (triggered_by, started_at DESC);
  CREATE INDEX idx_sync_history_metadata ON archon_sync_history USING gin (metadata);
  CREATE FUNCTION update_sync_history_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
  END;
  $$;
  CREATE TRIGGER trigger_sync_history_updated_at BEFORE UPDATE ON archon_sync_history
    FOR EACH ROW EXECUTE FUNCTION update_sync_history_updated_at();
  ALTER TABLE archon_sync_history ENABLE ROW LEVEL SECURITY;`;

/** Everything the DDL could add or replace, with object ids, so a drop-and-recreate shows as a change too. */
async function shape(client: pg.ClientBase): Promise<Record<string, unknown>> {
  const rows = async (sql: string) => (await client.query(sql)).rows as Record<string, unknown>[];
  return {
    columns: await rows(`SELECT column_name, data_type, column_default, is_nullable FROM information_schema.columns
                          WHERE table_name = 'archon_sync_history' ORDER BY ordinal_position`),
    indexes: await rows(`SELECT i.indexname, i.indexdef, c.oid::int AS oid FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname
                          WHERE i.tablename = 'archon_sync_history' ORDER BY 1`),
    triggers: await rows(`SELECT tgname, tgtype, tgfoid::regproc::text AS function, tgenabled, oid::int AS oid FROM pg_trigger
                           WHERE tgrelid = 'archon_sync_history'::regclass AND NOT tgisinternal ORDER BY 1`),
    functions: await rows(`SELECT proname, oid::int AS oid, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace
                            AND proname LIKE '%sync_history%' ORDER BY 1`),
    constraints: await rows(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                              WHERE conrelid = 'archon_sync_history'::regclass ORDER BY 1`),
    table: await rows(`SELECT oid::int AS oid, relrowsecurity FROM pg_class WHERE oid = 'archon_sync_history'::regclass`),
  };
}

/** A database whose archon_sync_history (from the template) is gone, with the function it came with. */
async function withoutHistory(prefix: string): Promise<string> {
  const database = await server.createDatabase(prefix);
  await server.asOwner(database, (client) => client.query(
    'DROP TABLE archon_sync_history; DROP FUNCTION IF EXISTS archon_sync_history_touch_updated_at()'));
  return database;
}

describe('schema/sync-history.sql', () => {
  test('on Archon\'s own table (migration 021) it adds no index, no trigger, no function and changes no column, twice', async () => {
    const database = await withoutHistory('archon021');
    await server.asOwner(database, async (client) => {
      await client.query(ARCHON_MIGRATION_021);
      const before = await shape(client);
      assert.equal((before.indexes as unknown[]).length, 7, 'the primary key, sync_id unique and Archon\'s five');
      await client.query(ddl);
      assert.deepEqual(await shape(client), before);
      await client.query(ddl);
      assert.deepEqual(await shape(client), before);
    });
  });

  test('on an empty database it makes a working table, and running it again changes nothing', async () => {
    const database = await withoutHistory('fresh');
    await server.asOwner(database, async (client) => {
      await client.query(ddl);
      const made = await shape(client);
      assert.deepEqual((made.indexes as { indexname: string }[]).map((i) => i.indexname), [
        'archon_sync_history_pkey', 'archon_sync_history_sync_id_key',
        'idx_archon_sync_history_direction', 'idx_archon_sync_history_started_at', 'idx_archon_sync_history_status',
      ]);
      assert.deepEqual((made.triggers as { tgname: string }[]).map((t) => t.tgname), ['archon_sync_history_touch_updated_at']);
      assert.equal((made.table as { relrowsecurity: boolean }[])[0]?.relrowsecurity, true);
      await client.query(`INSERT INTO archon_sync_history (sync_id, direction, status) VALUES ('sync_20260101_000000', 'local-to-remote', 'running')`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await client.query(`UPDATE archon_sync_history SET status = 'completed', percent_complete = 100`);
      const row = (await client.query<{ touched: boolean; percent_complete: number }>(
        'SELECT updated_at > created_at AS touched, percent_complete FROM archon_sync_history')).rows[0];
      assert.deepEqual(row, { touched: true, percent_complete: 100 });
      await client.query(ddl);
      await client.query(ddl);
      assert.deepEqual(await shape(client), made);
      assert.equal((await client.query('SELECT 1 FROM archon_sync_history')).rowCount, 1, 'rows are kept');
    });
  });

  test('on the table it made itself (the test template\'s) it changes nothing either', async () => {
    const database = await server.createDatabase('template');
    await server.asOwner(database, async (client) => {
      const before = await shape(client);
      await client.query(ddl);
      assert.deepEqual(await shape(client), before);
    });
  });
});
