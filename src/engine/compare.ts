// Row-by-row comparison of one table on two servers: merges two key-ordered digest streams in constant memory.

import type pg from 'pg';
import type { Catalog } from '../pg/catalog.js';
import { aggregateDigest, streamRowDigests, type RowDigest } from '../pg/row-digests.js';
import { StallWatch, Stalled, type Side } from '../pg/stall-watch.js';
import type { KeySample, TableComparison } from '../types.js';

/** What to compare for one table. */
export interface TableSpec {
  schema: string;
  name: string;
  /** Quoted, schema-qualified name (the same on both sides). */
  sql: string;
  /** Primary-key columns; empty means the table is compared as a whole. */
  key: string[];
  /** Non-generated columns present on both sides, sorted by name so column order does not matter. */
  columns: string[];
  sourceOnlyColumns: string[];
  targetOnlyColumns: string[];
}



function emptySample(): KeySample {
  return { count: 0, keys: [] };
}

// Both servers sort keys by their text in the C collation, i.e. by UTF-8 bytes; compare the same way here.
function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const order = Buffer.compare(Buffer.from(a[i] ?? '', 'utf8'), Buffer.from(b[i] ?? '', 'utf8'));
    if (order !== 0) return order;
  }
  return 0;
}

/** Builds the comparison specs from two catalogs; tables absent on a side come back as `missing` results. */
export function tableSpecs(source: Catalog, target: Catalog, schema: string, tables: readonly string[]): { specs: TableSpec[]; missing: TableComparison[] } {
  const specs: TableSpec[] = [];
  const missing: TableComparison[] = [];
  for (const name of tables) {
    const s = source.tables.get(name);
    const t = target.tables.get(name);
    if (!s || !t) {
      missing.push({
        table: name, method: 'missing', equal: false, sourceRows: 0, targetRows: 0,
        onlyOnSource: emptySample(), onlyOnTarget: emptySample(), differing: emptySample(),
        sourceOnlyColumns: [], targetOnlyColumns: [], missingOn: s ? 'target' : 'source',
      });
      continue;
    }
    const sourceColumns = new Set(s.columns.filter((c) => !c.generated).map((c) => c.name));
    const targetColumns = new Set(t.columns.filter((c) => !c.generated).map((c) => c.name));
    // The source's key decides; if the target's differs, rows cannot be matched and keyed comparison is meaningless.
    const keysMatch = s.primaryKey.length > 0 && s.primaryKey.join(',') === t.primaryKey.join(',');
    specs.push({
      schema,
      name,
      sql: t.sql,
      key: keysMatch ? s.primaryKey : [],
      columns: [...sourceColumns].filter((c) => targetColumns.has(c)).sort(),
      sourceOnlyColumns: [...sourceColumns].filter((c) => !targetColumns.has(c)).sort(),
      targetOnlyColumns: [...targetColumns].filter((c) => !sourceColumns.has(c)).sort(),
    });
  }
  return { specs, missing };
}

/** The spec for a planned table: its copied columns, compared on the primary key the target has. */
export function specFromPlan(table: { schema: string; name: string; sql: string; primaryKey: string[]; columns: string[]; targetOnlyColumns: string[] }): TableSpec {
  return {
    schema: table.schema, name: table.name, sql: table.sql, key: table.primaryKey,
    columns: [...table.columns].sort(), sourceOnlyColumns: [], targetOnlyColumns: table.targetOnlyColumns,
  };
}

function describeKey(columns: readonly string[], key: readonly string[]): string {
  return columns.map((c, i) => `${c}=${key[i] ?? ''}`).join(', ');
}

export interface CompareOptions {
  sampleLimit: number;
  onProgress?: ((comparedRows: number) => void) | undefined;
  /** No row arriving from a side for this long calls onStall (0: never). */
  stallTimeoutMs?: number | undefined;
  onStall?: ((stall: Stalled) => void) | undefined;
  /** Wraps every wait for a row, so a lost connection rejects it (a cursor does not always hear of it). */
  guard?: (<T>(work: Promise<T>) => Promise<T>) | undefined;
}

/** Compares one table between the two connections (each in the transaction the caller chose). */
export async function compareTable(source: pg.ClientBase, target: pg.ClientBase, spec: TableSpec, options: CompareOptions): Promise<TableComparison> {
  const { sampleLimit, onProgress } = options;
  const base = {
    table: spec.name, sourceOnlyColumns: spec.sourceOnlyColumns, targetOnlyColumns: spec.targetOnlyColumns,
    onlyOnSource: emptySample(), onlyOnTarget: emptySample(), differing: emptySample(),
  };
  if (spec.key.length === 0) {
    const [a, b] = [await aggregateDigest(source, spec.sql, spec.columns), await aggregateDigest(target, spec.sql, spec.columns)];
    onProgress?.(a.rows);
    return { ...base, method: 'aggregate', equal: a.rows === b.rows && a.digest === b.digest, sourceRows: a.rows, targetRows: b.rows };
  }
  const note = (sample: KeySample, key: readonly string[]) => {
    sample.count += 1;
    if (sample.keys.length < sampleLimit) sample.keys.push(describeKey(spec.key, key));
  };
  // Two cursors on two connections, read in step: neither side is ever held in memory.
  const left = streamRowDigests(source, spec.sql, spec.key, spec.columns)[Symbol.asyncIterator]();
  const right = streamRowDigests(target, spec.sql, spec.key, spec.columns)[Symbol.asyncIterator]();
  // Which side we wait for, so a stall can be blamed on the right server.
  let waitingOn: Side = 'source';
  const watch = new StallWatch(options.stallTimeoutMs ?? 0, (idleMs) => options.onStall?.(new Stalled(waitingOn, 'data', idleMs)));
  const next = async (side: Side): Promise<IteratorResult<RowDigest>> => {
    waitingOn = side;
    const pending = (side === 'source' ? left : right).next();
    const row = await (options.guard ? options.guard(pending) : pending);
    watch.touch();
    return row;
  };
  try {
    let a = await next('source');
    let b = await next('target');
    let sourceRows = 0;
    let targetRows = 0;
    let compared = 0;
    while (!a.done || !b.done) {
      const order = a.done ? 1 : b.done ? -1 : compareKeys(a.value.key, b.value.key);
      if (order < 0 && !a.done) {
        note(base.onlyOnSource, a.value.key);
        sourceRows += 1;
        a = await next('source');
      } else if (order > 0 && !b.done) {
        note(base.onlyOnTarget, b.value.key);
        targetRows += 1;
        b = await next('target');
      } else if (!a.done && !b.done) {
        if (!a.value.digest.equals(b.value.digest)) note(base.differing, a.value.key);
        sourceRows += 1;
        targetRows += 1;
        a = await next('source');
        b = await next('target');
      }
      compared += 1;
      if (compared % 2000 === 0) onProgress?.(compared);
    }
    onProgress?.(compared);
    const equal = base.onlyOnSource.count === 0 && base.onlyOnTarget.count === 0 && base.differing.count === 0;
    return { ...base, method: 'keyed', equal, sourceRows, targetRows };
  } finally {
    watch.stop();
    // On a failure the other side's cursor is still open mid-result; closing it lets that connection roll back
    // instead of waiting behind it. Not awaited: a side that is gone never answers the close.
    void left.return?.().catch(() => undefined);
    void right.return?.().catch(() => undefined);
  }
}
