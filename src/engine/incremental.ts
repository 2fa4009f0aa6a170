// The incremental way of loading tables: every compared table's digests in one stream and one diff (the
// multi-table diff), under a lock that blocks writers, not readers; only the rows that differ are deleted (all
// tables in one message) and copied (one COPY pipe per changed table), and indexes stay in place.

import type { IndexInfo } from '../pg/catalog.js';
import type { ComparisonSetup } from '../pg/comparison-setup.js';
import { copyChanged, deleteChanged, diffTables, changedKeysRelation, type KeyList, type MultiDiff, type Staging, type TableDiff } from '../pg/multi-diff.js';
import type { DiffTableSpec } from '../pg/row-digest-sql.js';
import type { TablePlan, TableResult } from '../types.js';
import type { Session } from './connections.js';
import type { LoadContext, Replaced, TableLoad } from './table-load.js';
import type { ChangeFilter } from './watermark.js';

export function diffSpec(table: TablePlan): DiffTableSpec {
  return { sql: table.sql, key: table.primaryKey, columns: table.columns, format: table.format, textColumns: table.textColumns };
}

/** The compared tables' diff, shared by their loads: table `tables[tag]` is staged under `tag`. */
export interface ComparedTables {
  tables: readonly TablePlan[];
  staging: Staging;
  diff: MultiDiff;
}

export interface CompareTablesOptions {
  /** Per table (quoted name), the rows each side may have changed since a trusted watermark. */
  filters?: ReadonlyMap<string, ChangeFilter> | undefined;
  /** Keys sampled per kind and table (the target's own edits). */
  sampleLimit: number;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  /** Digests streamed so far per table (in `tables` order; the tables interleave in the stream) and bytes in all. */
  onRows?: ((rowsByTable: readonly number[], bytes: number) => void) | undefined;
  /** A verify compares without the replica role; a sync needs it to apply. */
  requireReplica?: boolean | undefined;
  /** Statements for the diff's message (their replies: the diff's `alongside`). */
  alongside?: readonly string[] | undefined;
}

/**
 * Compares `tables` (staged under `setup`, in this order: setUpComparison) with the multi-table diff: every
 * table's digests in one source COPY and one diff message (a rows-only-the-target-rewrote recheck adds one of
 * each). Nothing is written to the tables. No settings to pin: both transactions opened with CANONICAL_TEXT,
 * the digests' settings too.
 */
export async function compareTables(session: Session, tables: readonly TablePlan[], setup: Pick<ComparisonSetup, 'staging' | 'sendFunctions'>, options: CompareTablesOptions): Promise<ComparedTables> {
  const { staging } = setup;
  const diff = await diffTables(session.source, session.target, staging, {
    sendFunctions: setup.sendFunctions,
    changedSince: options.filters,
    sampleLimit: options.sampleLimit,
    signal: options.signal,
    stallTimeoutMs: options.stallTimeoutMs,
    onRows: options.onRows,
    requireReplica: options.requireReplica,
    alongside: options.alongside,
  });
  return { tables, staging, diff };
}

/** Rows whose digests streamed for each table split the stream's bytes: what each table's result reports as read. */
function digestBytesOf(compared: ComparedTables, tag: number): number {
  const rows = compared.diff.tables.reduce((sum, t) => sum + t.sourceRows, 0);
  return rows === 0 ? 0 : Math.round(compared.diff.bytes * (compared.diff.tables[tag]?.sourceRows ?? 0) / rows);
}

/** Loads only what changed: the old versions and target-only rows go first (removeStaleRows), then new rows. */
export class IncrementalLoad implements TableLoad {
  readonly mode = 'incremental' as const;
  readonly truncates = false;
  private deleted = 0;
  private toCopy: KeyList | undefined;

  prepareStatements(): string[] {
    return [];
  }

  constructor(readonly table: TablePlan, private readonly compared: ComparedTables, readonly tag: number) {}

  get diff(): TableDiff {
    return this.compared.diff.tables[this.tag]!;
  }

  get changed(): boolean {
    return this.diff.onlyOnSource.count + this.diff.differing.count + this.diff.onlyOnTarget.count > 0;
  }

  get rowsToCopy(): number {
    return this.diff.onlyOnSource.count + this.diff.differing.count;
  }

  indexesToDrop(): IndexInfo[] {
    return [];
  }

  async load(context: LoadContext): Promise<Omit<TableResult, 'seconds' | 'targetRows'>> {
    const copied = this.toCopy
      ? await copyChanged(context.session.source, context.session.target, this.compared.staging, this.tag, this.toCopy, {
        signal: context.signal, onRows: context.onRows, stallTimeoutMs: context.stallTimeoutMs,
      })
      : { rows: 0, bytes: 0 };
    return {
      table: this.table.name, format: this.table.format, mode: this.mode, sourceRows: this.table.sourceRows,
      copiedRows: copied.rows, inserted: this.diff.onlyOnSource.count, updated: this.diff.differing.count,
      deleted: this.deleted - this.diff.differing.count, bytes: copied.bytes + digestBytesOf(this.compared, this.tag),
    };
  }

  indexesToBuild(): IndexInfo[] {
    return [];
  }

  /**
   * Deletes, for every incremental load at once (one target message, children first), the target-only rows and
   * the old versions of changed rows, and hands each load the keys it copies. Call before any table loads.
   */
  static async removeStaleRows(session: Session, loads: readonly TableLoad[]): Promise<void> {
    const incremental = loads.filter((load): load is IncrementalLoad => load instanceof IncrementalLoad);
    const first = incremental[0];
    if (!first) return;
    // Loads are in FK order (parents first): reversed, children go first.
    const { deleted, toCopy } = await deleteChanged(session.target, first.compared.staging, first.compared.diff, incremental.map((load) => load.tag).reverse());
    for (const load of incremental) {
      load.deleted = deleted.get(load.tag) ?? 0;
      load.toCopy = toCopy.get(load.tag);
    }
  }

  replaces(): Replaced {
    if (!this.changed) return { kind: 'none' };
    return {
      kind: 'keys', keys: changedKeysRelation(this.compared.staging, this.tag), rowsBefore: this.diff.targetRows,
      replacedRows: this.diff.differing.count + this.diff.onlyOnTarget.count,
    };
  }
}
