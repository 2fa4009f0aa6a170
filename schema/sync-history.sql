-- Creates archon_sync_history, the per-run log a sync writes into its target; safe to run any number of times.
-- The columns are those Archon's own sync script and API write (the fork's 0.3.0/021 shape), so runs made by
-- archon-sync and by Archon sit side by side. `archon-sync init-history` runs this against users' databases,
-- hence IF NOT EXISTS / OR REPLACE on every statement.

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

CREATE INDEX IF NOT EXISTS idx_archon_sync_history_started_at ON archon_sync_history (started_at DESC);
-- Dashboards ask "is a sync running?" and "what failed?"; completed runs are the bulk and never asked for.
CREATE INDEX IF NOT EXISTS idx_archon_sync_history_status ON archon_sync_history (status)
  WHERE status IN ('running', 'failed');
CREATE INDEX IF NOT EXISTS idx_archon_sync_history_direction ON archon_sync_history (direction, started_at DESC);
-- Archon's (triggered_by, ...) and GIN(metadata) indexes are left out on purpose: its other migration (032)
-- made a table without those columns, and if that one is already there this file must still run cleanly.

-- A function of its own rather than Archon's update_updated_at_column(), which may not exist in the target.
CREATE OR REPLACE FUNCTION archon_sync_history_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS archon_sync_history_touch_updated_at ON archon_sync_history;
CREATE TRIGGER archon_sync_history_touch_updated_at
  BEFORE UPDATE ON archon_sync_history
  FOR EACH ROW EXECUTE FUNCTION archon_sync_history_touch_updated_at();

-- On Supabase, new tables in public are reachable through the REST API with the anon key unless RLS is on.
-- With RLS on and no policy, only the owner (who runs the sync) and service_role can read or write it.
ALTER TABLE archon_sync_history ENABLE ROW LEVEL SECURITY;
