-- Creates archon_sync_history, the per-run log a sync writes into its target; run again, it changes nothing.
-- The columns are those Archon's own sync script and API write (the fork's 0.3.0/021 shape), so runs made by
-- archon-sync and by Archon sit side by side. `archon-sync init-history` runs this (as one simple query)
-- against users' databases, and those may already hold Archon's own table, made by its migration with other
-- index and trigger names (idx_sync_history_started, trigger_sync_history_updated_at, …). So nothing here is
-- made because a name is missing: each index is made only when the table has none with the same definition,
-- and the updated_at trigger only when no BEFORE UPDATE row trigger already sets updated_at.

CREATE TABLE IF NOT EXISTS archon_sync_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- sync_YYYYMMDD_HHMMSS in Archon's own runs.
  sync_id text NOT NULL UNIQUE,
  direction text NOT NULL CHECK (direction IN ('local-to-remote', 'remote-to-local', 'bidirectional')),
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  started_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  duration_seconds integer,
  total_rows integer,
  synced_rows integer,
  current_table text,
  current_phase text,
  percent_complete integer DEFAULT 0 CHECK (percent_complete BETWEEN 0 AND 100),
  tables_synced jsonb DEFAULT '[]'::jsonb,
  verification_results jsonb DEFAULT '{}'::jsonb,
  error_message text,
  error_details jsonb,
  export_size_mb numeric(10, 2),
  import_duration_seconds integer,
  export_duration_seconds integer,
  indexing_duration_seconds integer,
  triggered_by text DEFAULT 'User',
  backup_file_path text,
  source_db text,
  target_db text,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each index is compared by what follows USING in pg_get_indexdef (method, columns, predicate), the name left
-- out. The texts below are PostgreSQL's own rendering of these definitions (stable from 12 to 17); were a
-- version to render one differently, the index would be made a second time under our name, as before.
DO $$
DECLARE
  history regclass := 'archon_sync_history'::regclass;
  wanted record;
BEGIN
  FOR wanted IN
    SELECT * FROM (VALUES
      ('idx_archon_sync_history_started_at', 'USING btree (started_at DESC)'),
      -- Dashboards ask "is a sync running?" and "what failed?"; completed runs are the bulk and never asked for.
      ('idx_archon_sync_history_status', 'USING btree (status) WHERE (status = ANY (ARRAY[''running''::text, ''failed''::text]))'),
      ('idx_archon_sync_history_direction', 'USING btree (direction, started_at DESC)')
    ) AS w(name, definition)
  LOOP
    IF to_regclass(quote_ident(wanted.name)) IS NULL AND NOT EXISTS (
      SELECT 1 FROM pg_index i
       WHERE i.indrelid = history
         AND substr(pg_get_indexdef(i.indexrelid), strpos(pg_get_indexdef(i.indexrelid), ' USING ') + 1) = wanted.definition
    ) THEN
      EXECUTE format('CREATE INDEX %I ON archon_sync_history %s', wanted.name, wanted.definition);
    END IF;
  END LOOP;
  -- Archon's (triggered_by, ...) and GIN(metadata) indexes are left out on purpose: its other migration (032)
  -- made a table without those columns, and if that one is already there this file must still run cleanly.

  -- tgtype bits: 1 = FOR EACH ROW, 2 = BEFORE, 16 = UPDATE. Archon's trigger function, and its shared
  -- update_updated_at_column(), both assign NEW.updated_at; so does ours.
  IF NOT EXISTS (
    SELECT 1 FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid
     WHERE t.tgrelid = history AND NOT t.tgisinternal
       AND t.tgtype & 1 = 1 AND t.tgtype & 2 = 2 AND t.tgtype & 16 = 16
       AND f.prosrc ~* 'new\.updated_at\s*:?='
  ) THEN
    -- A function of its own rather than Archon's update_updated_at_column(), which may not exist in the target.
    EXECUTE $fn$
      CREATE OR REPLACE FUNCTION archon_sync_history_touch_updated_at() RETURNS trigger
      LANGUAGE plpgsql AS $body$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END;
      $body$
    $fn$;
    CREATE TRIGGER archon_sync_history_touch_updated_at
      BEFORE UPDATE ON archon_sync_history
      FOR EACH ROW EXECUTE FUNCTION archon_sync_history_touch_updated_at();
  END IF;

  -- On Supabase, new tables in public are reachable through the REST API with the anon key unless RLS is on.
  -- With RLS on and no policy, only the owner (who runs the sync) and service_role can read or write it.
  IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = history) THEN
    ALTER TABLE archon_sync_history ENABLE ROW LEVEL SECURITY;
  END IF;
END
$$;
