-- The 17 Archon tables (the fork's latest shape), plus three tables outside the 17 that reference them.
-- Written from the schema fact sheet for archon-sync's tests, demo and benchmark. Runs as the non-superuser
-- role that owns the tables, after extensions.sql. Everything lives in schema public.

CREATE TYPE task_status AS ENUM ('todo', 'doing', 'review', 'done');
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high', 'critical');

CREATE FUNCTION update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE FUNCTION update_crawl_state_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := timezone('utc', now());
  RETURN NEW;
END;
$$;

-- archon_settings -------------------------------------------------------------------------------
CREATE TABLE archon_settings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key varchar(255) NOT NULL UNIQUE,
  value text,
  encrypted_value text,
  is_encrypted boolean DEFAULT false,
  category varchar(100),
  description text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);
CREATE INDEX idx_archon_settings_key ON archon_settings (key);
CREATE INDEX idx_archon_settings_category ON archon_settings (category);
CREATE TRIGGER update_archon_settings_updated_at BEFORE UPDATE ON archon_settings
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- archon_projects (before sources: tables outside the 17 and later columns point at it) -----------
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
CREATE INDEX idx_archon_projects_active ON archon_projects (created_at DESC) WHERE archived = false;
CREATE INDEX idx_archon_projects_hierarchy_path_gist ON archon_projects USING gist (hierarchy_path);
CREATE INDEX idx_archon_projects_hierarchy_path_btree ON archon_projects USING btree (hierarchy_path);
CREATE TRIGGER update_archon_projects_updated_at BEFORE UPDATE ON archon_projects
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Fills hierarchy_path on insert when the caller gave none. A copy must keep the source's value instead.
CREATE FUNCTION update_project_hierarchy_path() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.hierarchy_path := text2ltree('p_' || replace(NEW.id::text, '-', '_'));
  RETURN NEW;
END;
$$;
CREATE TRIGGER trigger_update_project_hierarchy_path BEFORE INSERT ON archon_projects
  FOR EACH ROW WHEN (NEW.hierarchy_path IS NULL) EXECUTE FUNCTION update_project_hierarchy_path();

-- archon_sources -------------------------------------------------------------------------------
CREATE TABLE archon_sources (
  source_id text PRIMARY KEY,
  source_url text,
  source_display_name text,
  summary text,
  total_word_count integer DEFAULT 0,
  title text,
  metadata jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  updated_at timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE INDEX idx_archon_sources_title ON archon_sources (title);
CREATE INDEX idx_archon_sources_url ON archon_sources (source_url);
CREATE INDEX idx_archon_sources_display_name ON archon_sources (source_display_name);
CREATE INDEX idx_archon_sources_metadata ON archon_sources USING gin (metadata);
CREATE INDEX idx_archon_sources_knowledge_type ON archon_sources ((metadata ->> 'knowledge_type'));

-- archon_page_metadata -------------------------------------------------------------------------
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
  CONSTRAINT archon_page_metadata_source_fk FOREIGN KEY (source_id) REFERENCES archon_sources (source_id) ON DELETE CASCADE
);
CREATE INDEX idx_archon_page_metadata_source_id ON archon_page_metadata (source_id);

-- archon_crawled_pages (the big one) --------------------------------------------------------------
CREATE TABLE archon_crawled_pages (
  id bigserial PRIMARY KEY,
  url varchar NOT NULL,
  chunk_number integer NOT NULL,
  content text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_id text NOT NULL,
  embedding_384 vector(384),
  embedding_768 vector(768),
  embedding_1024 vector(1024),
  embedding_1536 vector(1536),
  embedding_3072 vector(3072),
  llm_chat_model text,
  embedding_model text,
  embedding_dimension integer,
  content_search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  page_id uuid,
  embedding_3584 vector(3584),
  UNIQUE (url, chunk_number),
  CONSTRAINT archon_crawled_pages_source_id_fkey FOREIGN KEY (source_id) REFERENCES archon_sources (source_id) ON DELETE CASCADE,
  CONSTRAINT archon_crawled_pages_page_id_fkey FOREIGN KEY (page_id) REFERENCES archon_page_metadata (id) ON DELETE SET NULL
);
CREATE INDEX idx_archon_crawled_pages_metadata ON archon_crawled_pages USING gin (metadata);
CREATE INDEX idx_archon_crawled_pages_source_id ON archon_crawled_pages (source_id);
CREATE INDEX idx_archon_crawled_pages_content_search ON archon_crawled_pages USING gin (content_search_vector);
CREATE INDEX idx_archon_crawled_pages_content_trgm ON archon_crawled_pages USING gin (content gin_trgm_ops);
CREATE INDEX idx_archon_crawled_pages_embedding_model ON archon_crawled_pages (embedding_model);
CREATE INDEX idx_archon_crawled_pages_embedding_dimension ON archon_crawled_pages (embedding_dimension);
CREATE INDEX idx_archon_crawled_pages_page_id ON archon_crawled_pages (page_id);
CREATE INDEX idx_archon_crawled_pages_embedding_384 ON archon_crawled_pages USING ivfflat (embedding_384 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_768 ON archon_crawled_pages USING ivfflat (embedding_768 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_1024 ON archon_crawled_pages USING ivfflat (embedding_1024 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_crawled_pages_embedding_1536_hnsw ON archon_crawled_pages USING hnsw (embedding_1536 vector_cosine_ops) WITH (m = 16, ef_construction = 64);

-- archon_code_examples ---------------------------------------------------------------------------
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
  llm_chat_model text,
  embedding_model text,
  embedding_dimension integer,
  content_search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', content || ' ' || summary)) STORED,
  created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
  embedding_3584 vector(3584),
  UNIQUE (url, chunk_number),
  CONSTRAINT archon_code_examples_source_id_fkey FOREIGN KEY (source_id) REFERENCES archon_sources (source_id) ON DELETE CASCADE
);
CREATE INDEX idx_archon_code_examples_metadata ON archon_code_examples USING gin (metadata);
CREATE INDEX idx_archon_code_examples_source_id ON archon_code_examples (source_id);
CREATE INDEX idx_archon_code_examples_content_search ON archon_code_examples USING gin (content_search_vector);
CREATE INDEX idx_archon_code_examples_content_trgm ON archon_code_examples USING gin (content gin_trgm_ops);
CREATE INDEX idx_archon_code_examples_summary_trgm ON archon_code_examples USING gin (summary gin_trgm_ops);
CREATE INDEX idx_archon_code_examples_embedding_model ON archon_code_examples (embedding_model);
CREATE INDEX idx_archon_code_examples_embedding_384 ON archon_code_examples USING ivfflat (embedding_384 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_768 ON archon_code_examples USING ivfflat (embedding_768 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_1024 ON archon_code_examples USING ivfflat (embedding_1024 vector_cosine_ops) WITH (lists = 100);
CREATE INDEX idx_archon_code_examples_embedding_1536_hnsw ON archon_code_examples USING hnsw (embedding_1536 vector_cosine_ops) WITH (m = 16, ef_construction = 64);

-- archon_crawl_state ---------------------------------------------------------------------------
CREATE TABLE archon_crawl_state (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  progress_id text NOT NULL UNIQUE,
  source_id text REFERENCES archon_sources (source_id) ON DELETE CASCADE,
  crawl_type text NOT NULL,
  status text NOT NULL CHECK (status IN ('paused', 'resumed', 'running')),
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
CREATE TRIGGER trigger_update_crawl_state_updated_at BEFORE UPDATE ON archon_crawl_state
  FOR EACH ROW EXECUTE FUNCTION update_crawl_state_updated_at();

-- Tables outside the 17 (Archon has them too): archon-sync must never damage them -------------------
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

-- archon_tasks -----------------------------------------------------------------------------------
CREATE TABLE archon_tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
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
  sprint_id uuid,
  workflow_stage_id uuid,
  story_points integer CHECK (story_points >= 0),
  time_estimate_hours numeric(10, 2) CHECK (time_estimate_hours > 0),
  time_spent_hours numeric(10, 2) DEFAULT 0 CHECK (time_spent_hours >= 0),
  due_date date,
  CONSTRAINT archon_tasks_sprint_id_fkey FOREIGN KEY (sprint_id) REFERENCES archon_sprints (id) ON DELETE SET NULL,
  CONSTRAINT archon_tasks_workflow_stage_id_fkey FOREIGN KEY (workflow_stage_id) REFERENCES archon_workflow_stages (id) ON DELETE SET NULL
);
CREATE INDEX idx_archon_tasks_project_id ON archon_tasks (project_id);
CREATE INDEX idx_archon_tasks_status ON archon_tasks (status);
CREATE INDEX idx_archon_tasks_assignee ON archon_tasks (assignee);
CREATE INDEX idx_archon_tasks_order ON archon_tasks (task_order);
CREATE INDEX idx_archon_tasks_priority ON archon_tasks (priority);
CREATE INDEX idx_archon_tasks_archived ON archon_tasks (archived);
CREATE INDEX idx_archon_tasks_parent ON archon_tasks (parent_task_id);
CREATE INDEX idx_archon_tasks_completed_at ON archon_tasks (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX idx_archon_tasks_sprint ON archon_tasks (sprint_id);
CREATE INDEX idx_archon_tasks_workflow_stage ON archon_tasks (workflow_stage_id);
CREATE TRIGGER update_archon_tasks_updated_at BEFORE UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE FUNCTION set_task_completed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'done' AND OLD.status IS DISTINCT FROM 'done' THEN
    NEW.completed_at := now();
    NEW.completed_by := coalesce(NEW.completed_by, NEW.assignee);
  ELSIF NEW.status IS DISTINCT FROM 'done' AND OLD.status = 'done' THEN
    NEW.completed_at := NULL;
    NEW.completed_by := NULL;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER trigger_set_task_completed BEFORE UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION set_task_completed();

-- archon_task_history ---------------------------------------------------------------------------
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
CREATE INDEX idx_archon_task_history_task_id ON archon_task_history (task_id);
CREATE INDEX idx_archon_task_history_changed_at ON archon_task_history (changed_at DESC);

-- Writes a history row per changed field; a sync must not let it fire.
CREATE FUNCTION log_task_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'status', OLD.status::text, NEW.status::text);
  END IF;
  IF NEW.assignee IS DISTINCT FROM OLD.assignee THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'assignee', OLD.assignee, NEW.assignee);
  END IF;
  IF NEW.priority IS DISTINCT FROM OLD.priority THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'priority', OLD.priority::text, NEW.priority::text);
  END IF;
  IF NEW.title IS DISTINCT FROM OLD.title THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'title', OLD.title, NEW.title);
  END IF;
  IF NEW.task_order IS DISTINCT FROM OLD.task_order THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'task_order', OLD.task_order::text, NEW.task_order::text);
  END IF;
  IF NEW.feature IS DISTINCT FROM OLD.feature THEN
    INSERT INTO archon_task_history (task_id, field_name, old_value, new_value) VALUES (NEW.id, 'feature', OLD.feature, NEW.feature);
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER trigger_log_task_changes AFTER UPDATE ON archon_tasks
  FOR EACH ROW EXECUTE FUNCTION log_task_changes();

-- archon_document_versions -----------------------------------------------------------------------
CREATE TABLE archon_document_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
  task_id uuid REFERENCES archon_tasks (id) ON DELETE CASCADE,
  field_name text NOT NULL,
  version_number integer NOT NULL,
  content jsonb NOT NULL,
  change_summary text,
  change_type text DEFAULT 'update',
  document_id text,
  created_by text DEFAULT 'system',
  created_at timestamptz DEFAULT now(),
  UNIQUE (project_id, task_id, field_name, version_number),
  CONSTRAINT chk_project_or_task CHECK ((project_id IS NOT NULL AND task_id IS NULL) OR (project_id IS NULL AND task_id IS NOT NULL))
);
CREATE INDEX idx_archon_document_versions_project_id ON archon_document_versions (project_id);
CREATE INDEX idx_archon_document_versions_task_id ON archon_document_versions (task_id);

-- archon_project_sources (source_id has no FK, as in Archon) ----------------------------------------
CREATE TABLE archon_project_sources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid REFERENCES archon_projects (id) ON DELETE CASCADE,
  source_id text NOT NULL,
  linked_at timestamptz DEFAULT now(),
  created_by text DEFAULT 'system',
  notes text,
  UNIQUE (project_id, source_id)
);
CREATE INDEX idx_archon_project_sources_project_id ON archon_project_sources (project_id);
CREATE INDEX idx_archon_project_sources_source_id ON archon_project_sources (source_id);

-- archon_configured_repositories -----------------------------------------------------------------
CREATE TABLE archon_configured_repositories (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  repository_url text NOT NULL UNIQUE,
  display_name text,
  owner text,
  default_branch text,
  is_verified boolean DEFAULT false,
  last_verified_at timestamptz,
  default_sandbox_type text DEFAULT 'git_worktree' CHECK (default_sandbox_type IN ('git_worktree', 'full_clone', 'tmp_dir')),
  default_commands jsonb DEFAULT '["create-branch", "planning", "execute", "commit", "create-pr"]'::jsonb,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  CONSTRAINT valid_repository_url CHECK (repository_url ~ '^https://github\.com/[^/]+/[^/]+/?$')
);
CREATE UNIQUE INDEX idx_configured_repositories_url ON archon_configured_repositories (repository_url);
CREATE TRIGGER update_configured_repositories_updated_at BEFORE UPDATE ON archon_configured_repositories
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- archon_agent_work_orders / steps (no FK to configured_repositories, as in Archon) ---------------------
CREATE TABLE archon_agent_work_orders (
  agent_work_order_id text PRIMARY KEY,
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
CREATE TRIGGER update_agent_work_orders_updated_at BEFORE UPDATE ON archon_agent_work_orders
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE archon_agent_work_order_steps (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_work_order_id text NOT NULL REFERENCES archon_agent_work_orders (agent_work_order_id) ON DELETE CASCADE,
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
CREATE INDEX idx_agent_work_order_steps_order_id ON archon_agent_work_order_steps (agent_work_order_id);
CREATE INDEX idx_agent_work_order_steps_executed_at ON archon_agent_work_order_steps (executed_at);

-- archon_migrations, archon_prompts, archon_llm_pricing -----------------------------------------------
CREATE TABLE archon_migrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version varchar(20) NOT NULL,
  migration_name varchar(255) NOT NULL,
  applied_at timestamptz DEFAULT now(),
  checksum varchar(32),
  UNIQUE (version, migration_name)
);
CREATE INDEX idx_archon_migrations_applied_at ON archon_migrations (applied_at DESC);

CREATE TABLE archon_prompts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  prompt_name text NOT NULL UNIQUE,
  prompt text NOT NULL,
  description text,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);
CREATE TRIGGER update_archon_prompts_updated_at BEFORE UPDATE ON archon_prompts
  FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE archon_llm_pricing (
  id serial PRIMARY KEY,
  model_name varchar(100) NOT NULL,
  provider varchar(50) NOT NULL,
  input_price_per_1k numeric(10, 6) NOT NULL,
  output_price_per_1k numeric(10, 6) NOT NULL,
  effective_date date NOT NULL DEFAULT current_date,
  notes text,
  CONSTRAINT unique_model_provider_date UNIQUE (model_name, provider, effective_date)
);
CREATE INDEX idx_archon_llm_pricing_lookup ON archon_llm_pricing (model_name, provider, effective_date DESC);

-- Row-level security on all 17, with representative policies (Supabase's roles may not exist here) -----
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['archon_settings', 'archon_sources', 'archon_page_metadata', 'archon_crawled_pages',
    'archon_code_examples', 'archon_crawl_state', 'archon_projects', 'archon_tasks', 'archon_task_history',
    'archon_document_versions', 'archon_project_sources', 'archon_configured_repositories', 'archon_agent_work_orders',
    'archon_agent_work_order_steps', 'archon_migrations', 'archon_prompts', 'archon_llm_pricing']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO PUBLIC USING (true)', 'allow_read_' || t, t);
  END LOOP;
END;
$$;
