// The statements that prepare the target tables for a load and put them back after it: locks, triggers, foreign
// keys, indexes, emptying. Built as text so the sync sends each step's statements in one message.

import type pg from 'pg';
import { runBatch } from './batch.js';
import type { ForeignKeyInfo, IndexInfo, TriggerInfo, TriggerMode } from './catalog.js';
import { quoteIdent, quoteTable } from './quote.js';

const ENABLE_CLAUSE: Record<Exclude<TriggerMode, 'D'>, string> = { O: 'ENABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' };

export function disableTriggerStatement(trigger: TriggerInfo): string {
  return `ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} DISABLE TRIGGER ${quoteIdent(trigger.name)}`;
}

/** Puts a trigger back exactly as it was (normal, ALWAYS or REPLICA). */
export function restoreTriggerStatement(trigger: TriggerInfo): string | undefined {
  if (trigger.mode === 'D') return undefined;
  return `ALTER TABLE ${quoteTable(trigger.schema, trigger.table)} ${ENABLE_CLAUSE[trigger.mode]} TRIGGER ${quoteIdent(trigger.name)}`;
}

export function dropForeignKeyStatement(fk: ForeignKeyInfo): string {
  return `ALTER TABLE ${quoteTable(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`;
}

/** Re-creates a foreign key from its saved definition; PostgreSQL validates it set-based unless it was NOT VALID. */
export function addForeignKeyStatement(fk: ForeignKeyInfo): string {
  return `ALTER TABLE ${quoteTable(fk.schema, fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`;
}

export function lockTablesStatement(tables: readonly string[], mode: 'ACCESS EXCLUSIVE' | 'SHARE ROW EXCLUSIVE'): string[] {
  return tables.length === 0 ? [] : [`LOCK TABLE ${tables.join(', ')} IN ${mode} MODE`];
}

export function dropIndexesStatement(indexes: readonly IndexInfo[]): string[] {
  return indexes.length === 0 ? [] : [`DROP INDEX ${indexes.map((i) => quoteTable(i.schema, i.name)).join(', ')}`];
}

export function truncateStatement(tables: readonly string[]): string[] {
  // ONLY, and no CASCADE: either would empty tables we do not copy (children by inheritance, referencing
  // tables). References from outside tables were set aside before this.
  return tables.length === 0 ? [] : [`TRUNCATE TABLE ONLY ${tables.join(', ')}`];
}

/** Empties a table row by row: for a table TRUNCATE may not empty alone (other tables' keys point at it). */
export function deleteAllStatement(table: string): string {
  return `DELETE FROM ONLY ${table}`;
}

/** Runs statements in one round trip (or none when there are none). */
export async function runStatements(client: pg.ClientBase, statements: readonly string[]): Promise<void> {
  await runBatch(client, statements);
}
