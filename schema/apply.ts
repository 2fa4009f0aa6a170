// Finds and applies the schema files in schema/: used by the test harness, the demo, the benchmark and init-history.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export type SchemaFile = 'extensions' | 'archon' | 'sync-history';

// Compiled to dist/schema/apply.js; the .sql files stay in <repo>/schema/. Both places resolve here.
const SCHEMA_DIR = new URL(import.meta.url.includes('/dist/schema/') ? '../../schema/' : './', import.meta.url);

export function schemaSqlPath(file: SchemaFile): string {
  return fileURLToPath(new URL(`${file}.sql`, SCHEMA_DIR));
}

export async function readSchemaSql(file: SchemaFile): Promise<string> {
  return readFile(schemaSqlPath(file), 'utf8');
}

/** Runs a whole schema file as one simple query (so it runs in one implicit transaction). */
export async function applySchemaFile(client: pg.ClientBase, file: SchemaFile): Promise<void> {
  await client.query(await readSchemaSql(file));
}
