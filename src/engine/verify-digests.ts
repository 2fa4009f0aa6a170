// verify()'s keyed tables compared with the multi-table diff: the digests a sync compares, every table in one
// source COPY and one target diff, inside a target transaction verify rolls back.

import type { Catalog } from '../pg/catalog.js';
import { setUpComparison } from '../pg/comparison-setup.js';
import { diffTables, type DiffKeys } from '../pg/multi-diff.js';
import { diffTableSpec } from '../pg/row-digest-sql.js';
import type { KeySample, TableComparison } from '../types.js';
import type { TableSpec } from './compare.js';
import type { Session } from './connections.js';
import { diffSpec } from './incremental.js';
import type { TablePlan } from './plan.js';
import type { ProgressTracker } from './progress-tracker.js';
import { StreamProgress } from './stream-progress.js';
import { judgeLastRun, marksReadable } from './watermark.js';

export interface DigestVerifyOptions {
  sampleLimit: number;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  tracker: ProgressTracker;
  /** Rows per table in the source snapshot, for the progress steps. */
  sourceRows: ReadonlyMap<string, number>;
  onTable: (table: string | undefined) => void;
  /**
   * The tables as a sync between these two databases plans them (their signatures are what a watermark vouches
   * for), when the target's history table is readable; undefined, or why not, when no watermark can be used.
   */
  watermark: { schema: string; tables: readonly TablePlan[] } | { unusable: string };
}

export interface DigestVerification {
  tables: TableComparison[];
  /** The run whose watermark spared the digests of rows unchanged since, if one did. */
  comparedSince: string | undefined;
  /** Keyed tables whose every row was read, and why (table → reason); empty when the watermark vouched for all. */
  everyRow: Record<string, string>;
}

function sampleOf(key: readonly string[], found: DiffKeys): KeySample {
  return { count: found.count, keys: found.keys.map((values) => key.map((column, i) => `${column}=${values[i] ?? ''}`).join(', ')) };
}

/**
 * Compares the keyed `specs` (both catalogs hold them, with the same primary key) by their row digests: the
 * same counts and samples a row-by-row comparison gives (keys in the C collation's order of their text). The
 * target's transaction must be read-write (the staging is temporary tables) and is rolled back by the caller.
 */
export async function verifyByDigests(session: Session, catalogs: { source: Catalog; target: Catalog }, specs: readonly TableSpec[], options: DigestVerifyOptions): Promise<DigestVerification> {
  if (specs.length === 0) return { tables: [], comparedSince: undefined, everyRow: {} };
  const watermark = 'unusable' in options.watermark || !marksReadable(catalogs.source.server) || !marksReadable(catalogs.target.server)
    ? undefined : options.watermark;
  // A table a sync plans is digested over the sync's columns, as its watermark's signature says; others over the common ones.
  const planned = (spec: TableSpec) => watermark?.tables.find((t) => t.name === spec.name && t.primaryKey.join('\0') === spec.key.join('\0'));
  const diffSpecs = specs.map((spec) => {
    const table = planned(spec);
    return table ? diffSpec(table) : diffTableSpec(catalogs.source.tables.get(spec.name)!, catalogs.target.tables.get(spec.name)!, spec.columns, 'binary');
  });
  const plannedTables = specs.map(planned).filter((t): t is TablePlan => t !== undefined);
  const setup = await setUpComparison(session.source, session.target, {
    lock: [], refs: specs.map((spec) => ({ schema: spec.schema, name: spec.name })), specs: diffSpecs,
    marksOf: watermark && plannedTables.length > 0 ? { schema: watermark.schema, tables: plannedTables.map((t) => t.name) } : undefined,
  });
  // The transaction is repeatable read: the marks are its snapshot, the one the digests are read in.
  const verdict = setup.marks ? judgeLastRun(setup.lastWatermark, setup.marks, plannedTables) : {};
  const everyRow: Record<string, string> = {};
  for (const spec of specs) {
    const why = 'unusable' in options.watermark ? options.watermark.unusable
      : !watermark ? 'a server cannot give the marks a watermark is judged by'
        : !planned(spec) ? 'a sync would not compare it by this key'
          : !setup.marks || !verdict.trusted ? 'no committed archon-sync run between these two databases left a watermark this run can use'
            : verdict.comparedInFull?.get(spec.name);
    if (!verdict.trusted?.filters.has(spec.sql)) everyRow[spec.name] = why ?? 'the watermark does not vouch for it';
  }
  const progress = new StreamProgress(options.tracker, specs.map((spec) => ({ schema: spec.schema, name: spec.name, sourceRows: options.sourceRows.get(spec.name) ?? 0 })), options.onTable);
  const diff = await diffTables(session.source, session.target, setup.staging, {
    sendFunctions: setup.sendFunctions,
    changedSince: verdict.trusted?.filters,
    sampleLimit: options.sampleLimit,
    requireReplica: false,
    signal: options.signal,
    stallTimeoutMs: options.stallTimeoutMs,
    onRows: (rowsByTable, bytes) => progress.streaming(rowsByTable, bytes),
  });
  progress.ended(diff.tables.map((t) => t.sourceRows), diff.bytes);
  const tables = specs.map((spec, tag): TableComparison => {
    const t = diff.tables[tag]!;
    return {
      table: spec.name, method: 'keyed',
      equal: t.onlyOnSource.count + t.onlyOnTarget.count + t.differing.count === 0,
      sourceRows: t.sourceRows, targetRows: t.targetRows,
      onlyOnSource: sampleOf(spec.key, t.onlyOnSource), onlyOnTarget: sampleOf(spec.key, t.onlyOnTarget), differing: sampleOf(spec.key, t.differing),
      sourceOnlyColumns: spec.sourceOnlyColumns, targetOnlyColumns: spec.targetOnlyColumns,
    };
  });
  return { tables, comparedSince: verdict.trusted?.sinceSyncId, everyRow };
}
