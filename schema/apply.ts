// Locates the schema/*.sql files and runs one against a connection (test harness, demo, benchmark, init-history).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export type SchemaFile = 'extensions' | 'archon' | 'sync-history';

// tsc copies no .sql files, so from dist/schema/apply.js the files are two levels up, in <repo>/schema/;
// run from source (a TypeScript loader) they sit next to this module.
function schemaDirectory(): URL {
  const compiled = /\/dist\/schema\/[^/]+$/.test(new URL(import.meta.url).pathname);
  return new URL(compiled ? '../../schema/' : './', import.meta.url);
}

export function schemaSqlPath(file: SchemaFile): string {
  return fileURLToPath(new URL(`${file}.sql`, schemaDirectory()));
}

export async function readSchemaSql(file: SchemaFile): Promise<string> {
  return readFile(schemaSqlPath(file), 'utf8');
}

/**
 * Sends the whole file as one simple query: the server runs it as one implicit transaction, so a file that
 * fails half-way leaves nothing behind.
 */
export async function applySchemaFile(client: pg.ClientBase, file: SchemaFile): Promise<void> {
  await client.query(await readSchemaSql(file));
}
