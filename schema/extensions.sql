-- Installs the extensions the Archon schema depends on; run it as a superuser before archon.sql.
-- vector is not a trusted extension, so the non-superuser owner of the tables cannot create it itself
-- (on Supabase the dashboard does this step). ltree is the type of archon_projects.hierarchy_path.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS ltree WITH SCHEMA public;
