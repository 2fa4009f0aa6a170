// verify()'s keyed tables compared with the multi-table diff: the digests a sync compares, every table in one
// source COPY and one target diff, inside a target transaction verify rolls back.

import type { Catalog } from '../pg/catalog.js';
import { setUpComparison } from '../pg/comparison-setup.js';
import { diffTables, type DiffKeys } from '../pg/multi-diff.js';
import { diffTableSpec } from '../pg/row-digest-sql.js';
import type { KeySample, TableComparison } from '../types.js';
import type { TableSpec } from './compare.js';
import type { Session } from './connections.js';
import type { ProgressTracker } from './progress-tracker.js';
import { StreamProgress } from './stream-progress.js';

export interface DigestVerifyOptions {
  sampleLimit: number;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  tracker: ProgressTracker;
  /** Rows per table in the source snapshot, for the progress steps. */
  sourceRows: ReadonlyMap<string, number>;
  onTable: (table: string | undefined) => void;
}

function sampleOf(key: readonly string[], found: DiffKeys): KeySample {
  return { count: found.count, keys: found.keys.map((values) => key.map((column, i) => `${column}=${values[i] ?? ''}`).join(', ')) };
}

/**
 * Compares the keyed `specs` (both catalogs hold them, with the same primary key) by their row digests: the
 * same counts and samples a row-by-row comparison gives (keys in the C collation's order of their text). The
 * target's transaction must be read-write (the staging is temporary tables) and is rolled back by the caller.
 */
export async function verifyByDigests(session: Session, catalogs: { source: Catalog; target: Catalog }, specs: readonly TableSpec[], options: DigestVerifyOptions): Promise<TableComparison[]> {
  if (specs.length === 0) return [];
  const diffSpecs = specs.map((spec) => diffTableSpec(catalogs.source.tables.get(spec.name)!, catalogs.target.tables.get(spec.name)!, spec.columns, 'binary'));
  const setup = await setUpComparison(session.source, session.target, {
    lock: [], refs: specs.map((spec) => ({ schema: spec.schema, name: spec.name })), specs: diffSpecs, marksOf: undefined,
  });
  const progress = new StreamProgress(options.tracker, specs.map((spec) => ({ schema: spec.schema, name: spec.name, sourceRows: options.sourceRows.get(spec.name) ?? 0 })), options.onTable);
  const diff = await diffTables(session.source, session.target, setup.staging, {
    sendFunctions: setup.sendFunctions,
    sampleLimit: options.sampleLimit,
    requireReplica: false,
    signal: options.signal,
    stallTimeoutMs: options.stallTimeoutMs,
    onRows: (rowsByTable, bytes) => progress.streaming(rowsByTable, bytes),
  });
  progress.ended(diff.tables.map((t) => t.sourceRows), diff.bytes);
  return specs.map((spec, tag): TableComparison => {
    const t = diff.tables[tag]!;
    return {
      table: spec.name, method: 'keyed',
      equal: t.onlyOnSource.count + t.onlyOnTarget.count + t.differing.count === 0,
      sourceRows: t.sourceRows, targetRows: t.targetRows,
      onlyOnSource: sampleOf(spec.key, t.onlyOnSource), onlyOnTarget: sampleOf(spec.key, t.onlyOnTarget), differing: sampleOf(spec.key, t.differing),
      sourceOnlyColumns: spec.sourceOnlyColumns, targetOnlyColumns: spec.targetOnlyColumns,
    };
  });
}
