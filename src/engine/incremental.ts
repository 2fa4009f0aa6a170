// The incremental way of loading a table: digests compared under a lock that blocks writers, not readers;
// only the rows that differ are deleted and copied, and indexes stay in place.

import type { IndexInfo } from '../pg/catalog.js';
import { readSendFunctions, type DiffTableSpec, type SendFunctions } from '../pg/row-digest-sql.js';
import { applyDeletes, applyInserts, createDigestTables, diffKeys, stageDiff, type StagedDiff } from '../pg/table-diff.js';
import type { TablePlan, TableResult } from '../types.js';
import type { Session } from './connections.js';
import type { LoadContext, Replaced, TableLoad } from './table-load.js';
import type { ChangeFilter } from './watermark.js';

export function diffSpec(table: TablePlan): DiffTableSpec {
  return { sql: table.sql, key: table.primaryKey, columns: table.columns, format: table.format, textColumns: table.textColumns };
}

export interface Differ {
  /** Digests of one table compared; nothing written to it. */
  diff(session: Session, table: TablePlan, context: Omit<LoadContext, 'session'>): Promise<StagedDiff>;
}

/**
 * Prepares both sides for diffing `tables` (each side's send functions, the work tables on the target: three
 * round trips in all) and returns the differ. A table with a change filter has only its changed rows digested.
 */
export async function prepareDiff(session: Session, tables: readonly TablePlan[], filters?: ReadonlyMap<string, ChangeFilter>, editSampleLimit?: number): Promise<Differ> {
  const refs = tables.map((t) => ({ schema: t.schema, name: t.name }));
  // No settings to pin: both transactions opened with CANONICAL_TEXT, the digests' settings too.
  const sendFunctions: { source: SendFunctions; target: SendFunctions } = {
    source: await readSendFunctions(session.source, refs),
    target: await readSendFunctions(session.target, refs),
  };
  await createDigestTables(session.target, tables.map(diffSpec));
  return {
    diff: (s, table, context) => stageDiff(s.source, s.target, diffSpec(table), {
      sendFunctions, signal: context.signal, onRows: context.onRows, stallTimeoutMs: context.stallTimeoutMs, changedSince: filters?.get(table.sql), editSampleLimit,
    }),
  };
}

/** Loads only what changed: the old versions and target-only rows go first (children first), then new rows. */
export class IncrementalLoad implements TableLoad {
  readonly mode = 'incremental' as const;
  readonly truncates = false;
  private deleted = 0;

  prepareStatements(): string[] {
    return [];
  }

  constructor(readonly table: TablePlan, readonly staged: StagedDiff) {}

  get changed(): boolean {
    return this.staged.inserts + this.staged.updates + this.staged.deletes > 0;
  }

  get rowsToCopy(): number {
    return this.staged.inserts + this.staged.updates;
  }

  indexesToDrop(): IndexInfo[] {
    return [];
  }

  /** Called for every incremental table, children first, before any table loads. */
  async removeStale(session: Session): Promise<void> {
    this.deleted = await applyDeletes(session.target, diffSpec(this.table), this.staged);
  }

  async load(context: LoadContext): Promise<Omit<TableResult, 'seconds' | 'targetRows'>> {
    const copied = await applyInserts(context.session.source, context.session.target, diffSpec(this.table), this.staged, {
      signal: context.signal, onRows: context.onRows, stallTimeoutMs: context.stallTimeoutMs,
    });
    return {
      table: this.table.name, format: this.table.format, mode: this.mode, sourceRows: this.table.sourceRows,
      copiedRows: copied.rows, inserted: this.staged.inserts, updated: this.staged.updates,
      deleted: this.deleted - this.staged.updates, bytes: copied.bytes + this.staged.bytes,
    };
  }

  indexesToBuild(): IndexInfo[] {
    return [];
  }

  replaces(): Replaced {
    if (!this.changed) return { kind: 'none' };
    return { kind: 'keys', keys: diffKeys(diffSpec(this.table)), rowsBefore: this.staged.targetRows, replacedRows: this.staged.updates + this.staged.deletes };
  }
}
