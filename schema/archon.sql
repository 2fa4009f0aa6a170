-- Creates the 17 Archon tables in the fork's latest shape, plus the three outside tables that reference them.
-- Runs as the non-superuser role that will own every table (as the migration runner does on Supabase), in a
-- database where extensions.sql has already run. Written for archon-sync's tests, demo and benchmark; it is
-- meant to look like a real Archon database to the copy engine, not to be an installer (no IF NOT EXISTS).

------------------------------------------------------------------------------------------------------------
-- Types and trigger functions shared by several tables
------------------------------------------------------------------------------------------------------------

CREATE TYPE task_status AS ENUM ('todo', 'doing', 'review', 'done');
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high', 'critical');

CREATE FUNCTION update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

-- crawl_state came later with its own function; it stamps UTC wall-clock time like its column default does.
CREATE FUNCTION update_crawl_state_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := timezone('utc', now());
  RETURN NEW;
END;
$$;

------------------------------------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_settings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key varchar(255) NOT NULL UNIQUE,
  value text,
  -- A Fernet token whose key is derived from the deployment's secret: it only decrypts where it was made.
  encrypted_value text,
  is_encrypted boolean DEFAULT false,
  category varchar(100),
  description text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);

CREATE INDEX idx_archon_settings_key ON archon_settings (key);
CREATE INDEX idx_archon_settings_category ON archon_settings (category);

CREATE TRIGGER update_archon_settings_updated_at
  BEFORE UPDATE ON archon_settings
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

------------------------------------------------------------------------------------------------------------
-- Knowledge base: sources, pages, chunks, code examples, resumable crawls
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_sources (
  -- A 16-character hash of the source URL computed by the app, not a uuid.
  source_id text PRIMARY KEY,
  source_url text,
  source_display_name text,
  summary text,
  total_word_count integer DEFAULT 0,
  title text,
  -- knowledge_type, source_type and tags live in here rather than in columns.
  metadata jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  updated_at timestamptz NOT NULL DEFAULT timezone('utc', now())
);

CREATE INDEX idx_archon_sources_title ON archon_sources (title);
CREATE INDEX idx_archon_sources_url ON archon_sources (source_url);
CREATE INDEX idx_archon_sources_display_name ON archon_sources (source_display_name);
CREATE INDEX idx_archon_sources_metadata ON archon_sources USING gin (metadata);
CREATE INDEX idx_archon_sources_knowledge_type ON archon_sources ((metadata ->> 'knowledge_type'));

CREATE TABLE archon_page_metadata (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source_id text NOT NULL,
  url text NOT NULL,
  full_content text NOT NULL,
  section_title text,
  section_order integer DEFAULT 0,
  word_count integer NOT NULL,
  char_count integer NOT NULL,
  chunk_count integer NOT NULL DEFAULT 0,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  metadata jsonb DEFAULT '{}'::jsonb,
  CONSTRAINT archon_page_metadata_url_unique UNIQUE (url),
  CONSTRAINT archon_page_metadata_source_fk FOREIGN KEY (source_id)
    REFERENCES archon_sources (source_id) ON DELETE CASCADE
);

CREATE INDEX idx_archon_page_metadata_source_id ON archon_page_metadata (source_id);
CREATE INDEX idx_archon_page_metadata_section ON archon_page_metadata (source_id, section_title, section_order);
CREATE INDEX idx_archon_page_metadata_metadata ON archon_page_metadata USING gin (metadata);

CREATE TABLE archon_crawled_pages (
  id bigserial PRIMARY KEY,
  url varchar NOT NULL,
  chunk_number integer NOT NULL,
  content text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_id text NOT NULL,
  -- One column per embedding model size; a row fills exactly the one its embedding_dimension names.
  embedding_384 vector(384),
  embedding_768 vector(768),
  embedding_1024 vector(1024),
  embedding_1536 vector(1536),
  embedding_3072 vector(3072),
  embedding_3584 vector(3584),
  llm_chat_model text,
  embedding_model text,
  embedding_dimension integer,
  content_search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  page_id uuid,
  UNIQUE (url, chunk_number),
  CONSTRAINT archon_crawled_pages_source_id_fkey FOREIGN KEY (source_id)
    REFERENCES archon_sources (source_id) ON DELETE CASCADE,
  -- Chunks outlive a re-crawled page's metadata row; they just lose the link.
  CONSTRAINT archon_crawled_pages_page_id_fkey FOREIGN KEY (page_id)
    REFERENCES archon_page_metadata (id) ON DELETE SET NULL
);

CREATE INDEX idx_archon_crawled_pages_metadata ON archon_crawled_pages USING gin (metadata);
CREATE INDEX idx_archon_crawled_pages_source_id ON archon_crawled_pages (source_id);
CREATE INDEX idx_archon_crawled_pages_page_id ON archon_crawled_pages (page_id);
CREATE INDEX idx_archon_crawled_pages_embedding_model ON archon_crawled_pages (embedding_model);
CREATE INDEX idx_archon_crawled_pages_embedding_dimension ON archon_crawled_pages (embedding_dimension);
CREATE INDEX idx_archon_crawled_pages_content_search ON archon_crawled_pages USING gin (content_search_vector);
CREATE INDEX idx_archon_crawled_pages_content_trgm ON archon_crawled_pages USING gin (content gin_trgm_ops);
-- pgvector cannot index more than 2000 dimensions, so embedding_3072 and embedding_3584 stay unindexed.
CREATE INDEX idx_archon_crawled_pages_embedding_384 ON archon_crawled_pages
  USING ivfflat (embedding_384 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_768 ON archon_crawled_pages
  USING ivfflat (embedding_768 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_1024 ON archon_crawled_pages
  USING ivfflat (embedding_1024 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_1536_hnsw ON archon_crawled_pages
  USING hnsw (embedding_1536 vector_cosine_ops) WITH (m = 16, ef_construction = 64);

CREATE TABLE archon_code_examples (
  id bigserial PRIMARY KEY,
  url varchar NOT NULL,
  chunk_number integer NOT NULL,
  content text NOT NULL,
  summary text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_id text NOT NULL,
  embedding_384 vector(384),
  embedding_768 vector(768),
  embedding_1024 vector(1024),
  embedding_1536 vector(1536),
  embedding_3072 vector(3072),
  embedding_3584 vector(3584),
  llm_chat_model text,
  embedding_model text,
  embedding_dimension integer,
  -- Searches match either the code or the model's description of it.
  content_search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', content || ' ' || summary)) STORED,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  UNIQUE (url, chunk_number),
  CONSTRAINT archon_code_examples_source_id_fkey FOREIGN KEY (source_id)
    REFERENCES archon_sources (source_id) ON DELETE CASCADE
);

CREATE INDEX idx_archon_code_examples_metadata ON archon_code_examples USING gin (metadata);
CREATE INDEX idx_archon_code_examples_source_id ON archon_code_examples (source_id);
CREATE INDEX idx_archon_code_examples_embedding_model ON archon_code_examples (embedding_model);
CREATE INDEX idx_archon_code_examples_embedding_dimension ON archon_code_examples (embedding_dimension);
CREATE INDEX idx_archon_code_examples_content_search ON archon_code_examples USING gin (content_search_vector);
CREATE INDEX idx_archon_code_examples_content_trgm ON archon_code_examples USING gin (content gin_trgm_ops);
CREATE INDEX idx_archon_code_examples_summary_trgm ON archon_code_examples USING gin (summary gin_trgm_ops);
CREATE INDEX idx_archon_code_examples_embedding_384 ON archon_code_examples
  USING ivfflat (embedding_384 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_768 ON archon_code_examples
  USING ivfflat (embedding_768 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_1024 ON archon_code_examples
  USING ivfflat (embedding_1024 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_1536_hnsw ON archon_code_examples
  USING hnsw (embedding_1536 vector_cosine_ops) WITH (m = 16, ef_construction = 64);

CREATE TABLE archon_crawl_state (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  progress_id text NOT NULL UNIQUE,
  source_id text REFERENCES archon_sources (source_id) ON DELETE CASCADE,
  crawl_type text NOT NULL,
  status text NOT NULL CHECK (status IN ('paused', 'resumed', 'running')),
  -- The app stores already-serialised JSON here, so these may be jsonb string scalars rather than arrays.
  crawl_results jsonb DEFAULT '[]'::jsonb,
  pending_urls jsonb DEFAULT '[]'::jsonb,
  visited_urls jsonb DEFAULT '[]'::jsonb,
  current_depth integer DEFAULT 0,
  max_depth integer,
  pages_crawled integer DEFAULT 0,
  total_pages integer DEFAULT 0,
  progress_percent integer DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
  original_request jsonb NOT NULL,
  paused_at timestamptz,
  resumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  updated_at timestamptz NOT NULL DEFAULT timezone('utc', now())
);

CREATE INDEX idx_archon_crawl_state_status ON archon_crawl_state (status);
CREATE INDEX idx_archon_crawl_state_source_id ON archon_crawl_state (source_id);

CREATE TRIGGER trigger_update_crawl_state_updated_at
  BEFORE UPDATE ON archon_crawl_state
  FOR EACH ROW EXECUTE FUNCTION update_crawl_state_updated_at();

------------------------------------------------------------------------------------------------------------
-- Projects, and the tables outside the 17 that hang off them
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title text NOT NULL,
  description text DEFAULT '',
  docs jsonb DEFAULT '[]'::jsonb,
  features jsonb DEFAULT '[]'::jsonb,
  data jsonb DEFAULT '[]'::jsonb,
  github_repo text,
  pinned boolean DEFAULT false,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  archived boolean DEFAULT false,
  archived_at timestamptz,
  archived_by text,
  hierarchy_path ltree
);

CREATE INDEX idx_archon_projects_archived ON archon_projects (archived);
CREATE INDEX idx_archon_projects_archived_at ON archon_projects (archived_at);
-- The project list only ever shows live projects, newest first.
CREATE INDEX idx_archon_projects_active ON archon_projects (pinned DESC, created_at DESC) WHERE archived IS NOT TRUE;
CREATE INDEX idx_archon_projects_hierarchy_path_gist ON archon_projects USING gist (hierarchy_path);
CREATE INDEX idx_archon_projects_hierarchy_path ON archon_projects (hierarchy_path);

CREATE TRIGGER update_archon_projects_updated_at
  BEFORE UPDATE ON archon_projects
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- A project inserted without a place in the tree becomes its own root. ltree labels (PostgreSQL 15) allow
-- only letters, digits and underscores, and may not start with a digit as uuids can, hence the prefix.
CREATE FUNCTION update_project_hierarchy_path() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.hierarchy_path := text2ltree('p_' || replace(NEW.id::text, '-', '_'));
  RETURN NEW;
END;
$$;

CREATE TRIGGER trigger_update_project_hierarchy_path
  BEFORE INSERT ON archon_projects
  FOR EACH ROW WHEN (NEW.hierarchy_path IS NULL)
  EXECUTE FUNCTION update_project_hierarchy_path();

CREATE TABLE archon_sprints (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  starts_on date,
  created_at timestamptz DEFAULT now()
);

CREATE TABLE archon_workflow_stages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  stage_order integer NOT NULL DEFAULT 0
);

CREATE TABLE archon_project_hierarchy (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  parent_project_id uuid NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE,
  child_project_id uuid NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE
);

------------------------------------------------------------------------------------------------------------
-- Tasks and their history
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
  -- The only cycle among the 17: a subtask must be loaded after its parent (or with FK checks off).
  parent_task_id uuid REFERENCES archon_tasks (id) ON DELETE CASCADE,
  title text NOT NULL,
  description text DEFAULT '',
  status task_status DEFAULT 'todo',
  assignee text DEFAULT 'User' CHECK (assignee IS NOT NULL AND assignee <> ''),
  task_order integer DEFAULT 0,
  priority task_priority NOT NULL DEFAULT 'medium',
  feature text,
  sources jsonb DEFAULT '[]'::jsonb,
  code_examples jsonb DEFAULT '[]'::jsonb,
  archived boolean DEFAULT false,
  archived_at timestamptz,
  archived_by text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  completed_at timestamptz,
  completed_by text,
  sprint_id uuid REFERENCES archon_sprints (id) ON DELETE SET NULL,
  workflow_stage_id uuid CONSTRAINT archon_tasks_workflow_stage_id_fkey
    REFERENCES archon_workflow_stages (id) ON DELETE SET NULL,
  story_points integer CHECK (story_points >= 0),
  time_estimate_hours numeric(10, 2) CHECK (time_estimate_hours > 0),
  time_spent_hours numeric(10, 2) DEFAULT 0 CHECK (time_spent_hours >= 0),
  due_date date
);

CREATE INDEX idx_archon_tasks_project_id ON archon_tasks (project_id);
CREATE INDEX idx_archon_tasks_parent_task_id ON archon_tasks (parent_task_id);
CREATE INDEX idx_archon_tasks_status ON archon_tasks (status);
CREATE INDEX idx_archon_tasks_assignee ON archon_tasks (assignee);
CREATE INDEX idx_archon_tasks_order ON archon_tasks (task_order);
CREATE INDEX idx_archon_tasks_priority ON archon_tasks (priority);
CREATE INDEX idx_archon_tasks_archived ON archon_tasks (archived);
CREATE INDEX idx_archon_tasks_completed_at ON archon_tasks (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX idx_archon_tasks_sprint_id ON archon_tasks (sprint_id);
CREATE INDEX idx_archon_tasks_workflow_stage_id ON archon_tasks (workflow_stage_id);
CREATE INDEX idx_archon_tasks_due_date ON archon_tasks (due_date) WHERE due_date IS NOT NULL;

CREATE TABLE archon_task_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id uuid NOT NULL REFERENCES archon_tasks (id) ON DELETE CASCADE,
  field_name text NOT NULL,
  old_value text,
  new_value text,
  changed_by text DEFAULT 'system',
  changed_at timestamptz NOT NULL DEFAULT now(),
  change_reason text
);

CREATE INDEX idx_archon_task_history_task_id ON archon_task_history (task_id, changed_at DESC);
CREATE INDEX idx_archon_task_history_field_name ON archon_task_history (field_name);

CREATE TRIGGER update_archon_tasks_updated_at
  BEFORE UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Completion is derived from status so every client that moves a card gets it right.
CREATE FUNCTION set_task_completed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'done' AND OLD.status IS DISTINCT FROM 'done' THEN
    NEW.completed_at := now();
    NEW.completed_by := coalesce(NEW.completed_by, NEW.assignee);
  ELSIF OLD.status = 'done' AND NEW.status IS DISTINCT FROM 'done' THEN
    NEW.completed_at := NULL;
    NEW.completed_by := NULL;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER trigger_set_task_completed
  BEFORE UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION set_task_completed();

-- Any UPDATE (an upsert included) writes history rows: this is why a copy must insert into empty tables or
-- run with triggers disabled, or the target ends up with history the source never had.
CREATE FUNCTION log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO archon_task_history (task_id, field_name, old_value, new_value)
  SELECT NEW.id, change.field_name, change.old_value, change.new_value
  FROM (VALUES
    ('status', OLD.status::text, NEW.status::text),
    ('assignee', OLD.assignee, NEW.assignee),
    ('priority', OLD.priority::text, NEW.priority::text),
    ('title', OLD.title, NEW.title),
    ('task_order', OLD.task_order::text, NEW.task_order::text),
    ('feature', OLD.feature, NEW.feature)
  ) AS change (field_name, old_value, new_value)
  WHERE change.old_value IS DISTINCT FROM change.new_value;

  -- Descriptions are edited constantly and can be long: only sizeable edits are logged, and capped.
  IF abs(length(coalesce(NEW.description, '')) - length(coalesce(OLD.description, ''))) > 10 THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value)
    VALUES (NEW.id, 'description', left(OLD.description, 500), left(NEW.description, 500));
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER trigger_log_task_changes
  AFTER UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION log_task_changes();

------------------------------------------------------------------------------------------------------------
-- Project documents and links to knowledge sources
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_document_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
  -- Deprecated: versions used to belong to tasks as well.
  task_id uuid REFERENCES archon_tasks (id) ON DELETE CASCADE,
  field_name text NOT NULL,
  version_number integer NOT NULL,
  content jsonb NOT NULL,
  change_summary text,
  change_type text DEFAULT 'update',
  document_id text,
  created_by text DEFAULT 'system',
  created_at timestamptz DEFAULT now(),
  -- One of project_id and task_id is always NULL, and NULLs are distinct, so this never rejects a row.
  UNIQUE (project_id, task_id, field_name, version_number),
  CONSTRAINT chk_project_or_task CHECK ((project_id IS NULL) <> (task_id IS NULL))
);

CREATE INDEX idx_archon_document_versions_project_id ON archon_document_versions (project_id);
CREATE INDEX idx_archon_document_versions_task_id ON archon_document_versions (task_id);
CREATE INDEX idx_archon_document_versions_field_name ON archon_document_versions (field_name);
CREATE INDEX idx_archon_document_versions_version_number ON archon_document_versions (version_number);
CREATE INDEX idx_archon_document_versions_created_at ON archon_document_versions (created_at);

CREATE TABLE archon_project_sources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
  -- Deliberately no FK: a link may name a source that was deleted or not crawled yet.
  source_id text NOT NULL,
  linked_at timestamptz DEFAULT now(),
  created_by text DEFAULT 'system',
  notes text,
  UNIQUE (project_id, source_id)
);

CREATE INDEX idx_archon_project_sources_project_id ON archon_project_sources (project_id);
CREATE INDEX idx_archon_project_sources_source_id ON archon_project_sources (source_id);

------------------------------------------------------------------------------------------------------------
-- Agent work orders
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_configured_repositories (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  repository_url text NOT NULL UNIQUE,
  display_name text,
  owner text,
  default_branch text,
  is_verified boolean DEFAULT false,
  last_verified_at timestamptz,
  default_sandbox_type text DEFAULT 'git_worktree'
    CHECK (default_sandbox_type IN ('git_worktree', 'full_clone', 'tmp_dir')),
  default_commands jsonb DEFAULT '["create-branch", "planning", "execute", "commit", "create-pr"]'::jsonb,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  CONSTRAINT valid_repository_url CHECK (repository_url ~ '^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/?$')
);

-- Redundant with the UNIQUE constraint's own index, as in Archon; a copy tool must not trip over it.
CREATE UNIQUE INDEX idx_configured_repositories_url ON archon_configured_repositories (repository_url);

CREATE TRIGGER update_configured_repositories_updated_at
  BEFORE UPDATE ON archon_configured_repositories
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE archon_agent_work_orders (
  -- Generated by the app (e.g. wo_ plus random hex), so text rather than uuid.
  agent_work_order_id text PRIMARY KEY,
  -- Not a FK: work orders may target repositories that were never configured.
  repository_url text NOT NULL,
  sandbox_identifier text NOT NULL,
  git_branch_name text,
  agent_session_id text,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  metadata jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);

CREATE INDEX idx_agent_work_orders_status ON archon_agent_work_orders (status);
CREATE INDEX idx_agent_work_orders_created_at ON archon_agent_work_orders (created_at DESC);
CREATE INDEX idx_agent_work_orders_repository ON archon_agent_work_orders (repository_url);

CREATE TRIGGER update_agent_work_orders_updated_at
  BEFORE UPDATE ON archon_agent_work_orders
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE archon_agent_work_order_steps (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_work_order_id text NOT NULL
    REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
  step text NOT NULL,
  agent_name text NOT NULL,
  success boolean NOT NULL,
  output text,
  error_message text,
  duration_seconds double precision NOT NULL,
  session_id text,
  executed_at timestamptz NOT NULL,
  step_order integer NOT NULL
);

CREATE INDEX idx_agent_work_order_steps_work_order ON archon_agent_work_order_steps (agent_work_order_id, step_order);
CREATE INDEX idx_agent_work_order_steps_executed_at ON archon_agent_work_order_steps (executed_at);

------------------------------------------------------------------------------------------------------------
-- Bookkeeping: migrations, prompts, model prices
------------------------------------------------------------------------------------------------------------

CREATE TABLE archon_migrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version varchar(20) NOT NULL,
  migration_name varchar(255) NOT NULL,
  applied_at timestamptz DEFAULT now(),
  checksum varchar(32),
  UNIQUE (version, migration_name)
);

CREATE INDEX idx_archon_migrations_applied_at ON archon_migrations (applied_at DESC);
CREATE INDEX idx_archon_migrations_version ON archon_migrations (version);

CREATE TABLE archon_prompts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  prompt_name text NOT NULL UNIQUE,
  prompt text NOT NULL,
  description text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);

CREATE INDEX idx_archon_prompts_name ON archon_prompts (prompt_name);

CREATE TRIGGER update_archon_prompts_updated_at
  BEFORE UPDATE ON archon_prompts
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE archon_llm_pricing (
  id serial PRIMARY KEY,
  model_name varchar(100) NOT NULL,
  provider varchar(50) NOT NULL,
  input_price_per_1k numeric(10, 6) NOT NULL,
  output_price_per_1k numeric(10, 6) NOT NULL,
  effective_date date NOT NULL DEFAULT CURRENT_DATE,
  notes text,
  -- A price change is a new row with a later date, so the latest row per model is the current price.
  CONSTRAINT unique_model_provider_date UNIQUE (model_name, provider, effective_date)
);

CREATE INDEX idx_archon_llm_pricing_lookup ON archon_llm_pricing (model_name, provider, effective_date DESC);

------------------------------------------------------------------------------------------------------------
-- Row level security: on everywhere, as on Supabase. The owner bypasses it (nothing is FORCEd), which is what
-- lets a copy run as the owner see and write every row. Supabase's own roles may not exist here, so the
-- representative policies below are granted to PUBLIC.
------------------------------------------------------------------------------------------------------------

ALTER TABLE archon_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_page_metadata ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_crawled_pages ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_code_examples ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_crawl_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_task_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_document_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_project_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_configured_repositories ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_agent_work_orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_agent_work_order_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_prompts ENABLE ROW LEVEL SECURITY;
ALTER TABLE archon_llm_pricing ENABLE ROW LEVEL SECURITY;

CREATE POLICY archon_sources_public_read ON archon_sources FOR SELECT TO PUBLIC USING (true);
CREATE POLICY archon_page_metadata_public_read ON archon_page_metadata FOR SELECT TO PUBLIC USING (true);
CREATE POLICY archon_crawled_pages_public_read ON archon_crawled_pages FOR SELECT TO PUBLIC USING (true);
CREATE POLICY archon_code_examples_public_read ON archon_code_examples FOR SELECT TO PUBLIC USING (true);
CREATE POLICY archon_projects_read ON archon_projects FOR SELECT TO PUBLIC USING (archived IS NOT TRUE);
CREATE POLICY archon_tasks_read ON archon_tasks FOR SELECT TO PUBLIC USING (archived IS NOT TRUE);
CREATE POLICY archon_prompts_read ON archon_prompts FOR SELECT TO PUBLIC USING (true);
