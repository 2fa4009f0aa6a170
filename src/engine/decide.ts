// How each table is loaded, full or incremental, and whether the last committed run's watermark spares digests:
// decided here and only here, by the same steps whether the run is a preview (plan({ preview })) or a sync.

import type pg from 'pg';
import { setUpComparison } from '../pg/comparison-setup.js';
import type { TargetQuestions } from '../pg/target-facts.js';
import type { DiffKeys, TableDiff } from '../pg/multi-diff.js';
import type { SyncMode, SyncPlan, TablePlan, TargetEdits } from '../types.js';
import type { Session } from './connections.js';
import { compareTables, diffSpec, type ComparedTables } from './incremental.js';
import type { ResolvedOptions } from './options.js';
import { throwIfAborted } from './refusals.js';
import { judgeLastRun, marksReadable, type Marks, type TrustedChanges } from './watermark.js';

/** One table's load, decided before anything is written. */
export interface TableDecision {
  table: TablePlan;
  mode: 'full' | 'incremental';
  /** Why the table is copied in full, when it is. */
  reason: string | undefined;
  /** The table's part of the multi-table diff, when it was compared. */
  diff: TableDiff | undefined;
  /** Rows the target itself wrote since the last committed run, told apart by the watermark; undefined where no watermark is trusted for the table. */
  targetEdits?: TargetEdits | undefined;
  /** Rows on the target before the run. */
  targetRows: number;
}

export interface Decisions {
  tables: TableDecision[];
  /** The run whose watermark let rows go undigested, if one did. */
  comparedSince: string | undefined;
  /**
   * Tables whose every row is digested although the last run left a watermark, because it could not prove them
   * unchanged since, and why (table → reason); empty when no watermark was found or it vouched for every table.
   */
  comparedInFull: Record<string, string>;
  /** Both servers' identity and snapshot, when read for the watermark: this run's own watermark reuses the source's. */
  marks: Marks | undefined;
  /** The compared tables' staging and diff, which their incremental loads apply; undefined when none was compared. */
  compared: ComparedTables | undefined;
  /** The replies to DecideInput.alongside; undefined when no diff was sent. */
  alongside: pg.QueryResult[] | undefined;
}

/** What the run learned of the target before deciding: the answers to targetQuestions(). */
export interface TargetRows {
  replicaRole: boolean;
  /** Rows per table, for the tables whose rows were counted. */
  counted: ReadonlyMap<TablePlan, number>;
  /** Whether a table has rows, for the tables that are compared when they have some. */
  hasRows: ReadonlyMap<TablePlan, boolean>;
}

/** Receives the comparison as it goes (the run's progress and the table it works on). */
export interface ComparisonObserver {
  comparing(candidates: readonly TablePlan[]): void;
  /** Digests streamed so far per candidate (in `comparing`'s order; tables interleave in the one stream), bytes in all. */
  streaming(rowsByTable: readonly number[], bytes: number): void;
  /** The stream ended: rows per candidate, bytes in all. */
  compared(rowsByTable: readonly number[], bytes: number): void;
}

/** Incremental needs the replica role: deleting an old row version with FK triggers active would cascade to unchanged children. */
function mayCompare(mode: SyncMode, replicaRole: boolean): boolean {
  return mode !== 'full' && replicaRole;
}

/**
 * What to ask the target, once whether the replica role was granted is known: tables that are compared when they
 * have rows need only EXISTS (their digests count them); the others are counted. And whether the outside tables
 * that reference ours hold any such rows, for the plan's warnings.
 */
export function targetQuestions(plan: SyncPlan, mode: SyncMode, replicaRole: boolean): { questions: TargetQuestions; exists: TablePlan[]; counted: TablePlan[] } {
  const comparable = mayCompare(mode, replicaRole);
  const exists = comparable ? plan.tables.filter((t) => t.primaryKey.length > 0) : [];
  const counted = plan.tables.filter((t) => !exists.includes(t));
  return { questions: { count: counted.map((t) => t.sql), exists: exists.map((t) => t.sql), references: plan.externalReferences }, exists, counted };
}

/** Why a table is copied in full without comparing its rows, or undefined when its digests are worth comparing. */
function fullWithoutComparing(table: TablePlan, options: ResolvedOptions, rows: TargetRows): string | undefined {
  if (options.mode === 'full') return 'mode full';
  if (!rows.replicaRole) {
    return options.triggerSuppression === 'disable-triggers'
      ? 'user triggers are disabled by name (triggerSuppression), and incremental loading needs the replica role'
      : 'the role may not set session_replication_role';
  }
  if (table.primaryKey.length === 0) return 'no primary key common to both sides';
  // An empty target table is loaded in full: a bulk load and one index build.
  if (rows.hasRows.get(table) === false) return 'empty on the target';
  return undefined;
}

/** Auto's verdict once the diff is known: incremental unless the changed share exceeds fullCopyShare. */
function fullAfterComparing(diff: TableDiff, options: ResolvedOptions): string | undefined {
  if (options.mode === 'incremental') return undefined;
  const changed = diff.onlyOnSource.count + diff.differing.count + diff.onlyOnTarget.count;
  const of = Math.max(1, diff.sourceRows, diff.targetRows);
  return changed / of <= options.fullCopyShare ? undefined : `more than ${Math.round(options.fullCopyShare * 100)} % of its rows changed (${changed} of ${of})`;
}

/**
 * The watermark gate, the same for a preview and a run: history enabled in the options, the target's history
 * table there (and readable), and both servers able to give marks.
 */
export function watermarkUsable(options: ResolvedOptions, historyReadable: boolean, plan: SyncPlan): boolean {
  return options.history !== false && historyReadable && marksReadable(plan.source) && marksReadable(plan.target);
}

export interface DecideInput {
  session: Session;
  plan: SyncPlan;
  options: ResolvedOptions;
  rows: TargetRows;
  historyReadable: boolean;
  observer: ComparisonObserver;
  /** Statements to send in the diff's message, when there is one (their replies: Decisions.alongside). */
  alongside?: readonly string[] | undefined;
}

/**
 * Decides every table's load. Tables worth comparing are locked SHARE ROW EXCLUSIVE (writers wait, Archon's
 * readers do not) before their digests are compared, so nothing changes between the comparison and the apply;
 * the watermark is read after the locks, so no writer of these tables is left whose rows its marks could miss.
 */
export async function decideLoads(input: DecideInput): Promise<Decisions> {
  const { session, plan, options, rows, observer } = input;
  const fullBecause = new Map(plan.tables.map((t) => [t, fullWithoutComparing(t, options, rows)]));
  const candidates = plan.tables.filter((t) => fullBecause.get(t) === undefined);
  let since: { marks?: Marks | undefined; trusted?: TrustedChanges | undefined; comparedInFull?: Map<string, string> | undefined } = {};
  let compared: ComparedTables | undefined;
  if (candidates.length > 0) {
    observer.comparing(candidates);
    // One message a side: the locks, the marks read after them, the send functions and the staging.
    const setup = await setUpComparison(session.source, session.target, {
      lock: candidates.map((t) => t.sql),
      refs: candidates.map((t) => ({ schema: t.schema, name: t.name })),
      specs: candidates.map(diffSpec),
      marksOf: watermarkUsable(options, input.historyReadable, plan) ? { schema: plan.schema, tables: candidates.map((t) => t.name) } : undefined,
    });
    if (setup.marks) since = { marks: setup.marks, ...judgeLastRun(setup.lastWatermark, setup.marks, candidates) };
    throwIfAborted(options.signal);
    const filters = since.trusted?.filters;
    compared = await compareTables(session, candidates, setup, {
      filters,
      // Samples only where they are read: the target's own edits, told apart by a trusted watermark.
      sampleLimit: filters && filters.size > 0 ? options.sampleLimit : 0,
      signal: options.signal,
      stallTimeoutMs: options.stallTimeoutMs,
      onRows: (rowsByTable, bytes) => observer.streaming(rowsByTable, bytes),
      alongside: input.alongside,
    });
    observer.compared(compared.diff.tables.map((t) => t.sourceRows), compared.diff.bytes);
  }
  const tables = plan.tables.map((table): TableDecision => {
    const tag = compared?.tables.indexOf(table) ?? -1;
    const diff = tag >= 0 ? compared?.diff.tables[tag] : undefined;
    const reason = diff ? fullAfterComparing(diff, options) : fullBecause.get(table);
    const targetEdits = diff && since.trusted?.filters.has(table.sql) ? targetEditsOf(table, diff, options.sampleLimit) : undefined;
    return { table, mode: reason === undefined ? 'incremental' : 'full', reason, diff, targetEdits, targetRows: diff?.targetRows ?? rows.counted.get(table) ?? 0 };
  });
  return {
    tables, comparedSince: since.trusted?.sinceSyncId, comparedInFull: Object.fromEntries(since.comparedInFull ?? []), marks: since.marks, compared,
    alongside: compared?.diff.alongside,
  };
}

/** A key as `column=value`, the columns of a composite key joined by `, `. */
function keyText(table: TablePlan, key: readonly string[]): string {
  return table.primaryKey.map((column, i) => `${column}=${key[i] ?? ''}`).join(', ');
}

/**
 * What the target wrote on its own since the watermark, from the diff's classification: `inserted`, target-only
 * rows written since; `updated`, rows on both sides that differ and that the target wrote since; `deleted`,
 * source rows unchanged since that the target no longer has. `keys`: the first `sampleLimit` of them.
 */
function targetEditsOf(table: TablePlan, diff: TableDiff, sampleLimit: number): TargetEdits {
  const { inserted, edited, deleted } = diff.targetEdits;
  const keys = ([inserted, edited, deleted] as DiffKeys[]).flatMap((kind) => kind.keys).slice(0, sampleLimit).map((key) => keyText(table, key));
  return { inserted: inserted.count, updated: edited.count, deleted: deleted.count, keys };
}
