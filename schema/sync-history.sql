-- archon_sync_history: one row per sync run, in the target database. Same columns as Archon's own
-- migration (0.3.0/021). Idempotent: `archon-sync init-history` runs it against users' databases.
CREATE TABLE IF NOT EXISTS archon_sync_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
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
CREATE INDEX IF NOT EXISTS idx_archon_sync_history_status ON archon_sync_history (status) WHERE status IN ('running', 'failed');
CREATE INDEX IF NOT EXISTS idx_archon_sync_history_direction ON archon_sync_history (direction, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_archon_sync_history_triggered_by ON archon_sync_history (triggered_by, started_at DESC);

CREATE OR REPLACE FUNCTION archon_sync_history_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS archon_sync_history_updated_at ON archon_sync_history;
CREATE TRIGGER archon_sync_history_updated_at
  BEFORE UPDATE ON archon_sync_history
  FOR EACH ROW EXECUTE FUNCTION archon_sync_history_touch_updated_at();

ALTER TABLE archon_sync_history ENABLE ROW LEVEL SECURITY;
