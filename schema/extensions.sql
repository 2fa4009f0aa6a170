-- Extensions the Archon schema needs. Run by a superuser (vector is not a trusted extension);
-- on Supabase they are enabled from the dashboard.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS ltree;
