// The incremental way of loading a table: digests compared under a lock that blocks writers, not readers;
// only the rows that differ are deleted and copied, and indexes stay in place.

import type pg from 'pg';
import type { IndexInfo } from '../pg/catalog.js';
import { tablesWithRows } from '../pg/target-statements.js';
import { readSendFunctions, type DiffTableSpec, type SendFunctions } from '../pg/row-digest-sql.js';
import { applyDeletes, applyInserts, createDigestTables, diffKeys, stageDiff, type StagedDiff } from '../pg/table-diff.js';
import type { Session } from './connections.js';
import type { SyncPlan, TablePlan } from './plan.js';
import type { LoadContext, Replaced, TableLoad, TableResult } from './table-load.js';
import type { ChangeFilter } from './watermark.js';

export type { TablePreview } from './plan.js';

export type SyncMode = 'auto' | 'full' | 'incremental';

/** Above this share of changed rows, `auto` copies a table in full: row-by-row HNSW inserts lose to one bulk build (measured crossover: 30–37 %, docs/BENCHMARKS.md). */
export const DEFAULT_FULL_COPY_SHARE = 0.35;

export interface ModeChoice {
  mode: SyncMode;
  fullCopyShare: number;
}

/** Auto's verdict once the diff is known: full when the changed share exceeds the threshold. */
export function loadsIncrementally(choice: ModeChoice, diff: StagedDiff): boolean {
  if (choice.mode === 'incremental') return true;
  const changed = diff.inserts + diff.updates + diff.deletes;
  return changed / Math.max(1, diff.sourceRows, diff.targetRows) <= choice.fullCopyShare;
}

/**
 * The tables whose digests are worth comparing, and why each other one is copied in full. Incremental needs the
 * replica role (deleting an old row version with FK triggers active would cascade to unchanged children) and a
 * primary key common to both sides; an empty target table is loaded in full (a bulk load and one index build).
 */
export async function incrementalCandidates(target: pg.ClientBase, plan: SyncPlan, mode: SyncMode, replica: boolean): Promise<{ candidates: TablePlan[]; fullBecause: Map<TablePlan, string> }> {
  const fullBecause = new Map<TablePlan, string>();
  if (mode === 'full' || !replica) {
    for (const table of plan.tables) fullBecause.set(table, mode === 'full' ? 'mode full' : 'the role may not set session_replication_role');
    return { candidates: [], fullBecause };
  }
  const keyed = plan.tables.filter((t) => t.primaryKey.length > 0);
  for (const table of plan.tables.filter((t) => t.primaryKey.length === 0)) fullBecause.set(table, 'no primary key common to both sides');
  const hasRows = await tablesWithRows(target, keyed.map((t) => t.sql));
  keyed.forEach((table, i) => { if (!hasRows[i]) fullBecause.set(table, 'empty on the target'); });
  return { candidates: keyed.filter((_, i) => hasRows[i]), fullBecause };
}

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
export async function prepareDiff(session: Session, tables: readonly TablePlan[], filters?: ReadonlyMap<string, ChangeFilter>): Promise<Differ> {
  const refs = tables.map((t) => ({ schema: t.schema, name: t.name }));
  // No settings to pin: both transactions opened with CANONICAL_TEXT, the digests' settings too.
  const sendFunctions: { source: SendFunctions; target: SendFunctions } = {
    source: await readSendFunctions(session.source, refs),
    target: await readSendFunctions(session.target, refs),
  };
  await createDigestTables(session.target, tables.map(diffSpec));
  return {
    diff: (s, table, context) => stageDiff(s.source, s.target, diffSpec(table), {
      sendFunctions, signal: context.signal, onRows: context.onRows, stallTimeoutMs: context.stallTimeoutMs, changedSince: filters?.get(table.sql),
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
