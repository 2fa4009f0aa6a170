// The watermark a committed sync leaves in its history row, and what the next run may skip because of it.

import { createHash } from 'node:crypto';
import type { ServerInfo } from '../pg/catalog.js';
import {
  changedSinceSql, MAX_MARK_AGE, snapshotBounds, writtenSince,
  type ChangedSince, type ServerIdentity, type ServerMark,
} from '../pg/change-marks.js';
import type { TablePlan } from './plan.js';

/**
 * Recorded with a run before its COMMIT (history metadata `watermark`): after it, every target row written by
 * `target.xid` or older than `target.snapshot`'s xmin equals the source row of `source.snapshot` with its key,
 * for the tables listed with the columns their signature names, as long as nothing that defines what the rows'
 * bytes mean changed since on either side (see whyNotTrusted).
 *
 * The source must not have restarted since (`startedAt`): a data directory put back from a copy rewinds its
 * transaction ids, and rows written after that could carry ids older than the snapshot. The target needs no
 * such check: its history table is put back with its rows, so the watermark it then holds describes them.
 */
export interface Watermark {
  version: 2;
  source: { identity: ServerIdentity; snapshot: string; startedAt: string };
  /**
   * `begun`: the target snapshot when the run's transaction began. The target's catalog is not frozen by the
   * run's snapshot (it reads committed), so catalog rows count as changed from the start of the run on.
   */
  target: { identity: ServerIdentity; xid: string; snapshot: string; begun: string };
  /** Table (quoted, qualified) → signature of what was compared and copied, and the table's oid on each side. */
  tables: Record<string, { signature: string; source: number; target: number }>;
}

/** Which rows of a table may differ, per side: SQL conditions over row alias `r` for the multi-table diff. */
export interface ChangeFilter {
  source: string;
  target: string;
}

export interface TrustedChanges {
  /** The run whose watermark was used. */
  sinceSyncId: string;
  /** Tables whose unchanged rows need no digest; the others are compared row by row in full. */
  filters: Map<string, ChangeFilter>;
}

/** What a watermark allows now: change filters for the tables it vouches for, and why it cannot for the others. */
export interface WatermarkVerdict {
  filters: Map<string, ChangeFilter>;
  /** Table name → why every row of it is digested although a watermark was found. */
  comparedInFull: Map<string, string>;
}

/** What the key, the copied columns and the way they are digested were: a change to any of them means compare everything. */
export function tableSignature(table: Pick<TablePlan, 'primaryKey' | 'columns' | 'textColumns'>): string {
  return createHash('sha256').update(JSON.stringify([table.primaryKey, table.columns, table.textColumns])).digest('hex').slice(0, 32);
}

/** Whether the server can give marks: PostgreSQL 13 or later and its identity readable by this role. */
export function marksReadable(server: ServerInfo): boolean {
  return server.versionNum >= 130000 && server.identityReadable;
}

/** @param targetBegun the target snapshot taken as the run's transaction began. */
export function buildWatermark(source: ServerMark, target: ServerMark, targetXid: string, targetBegun: string, tables: readonly TablePlan[]): Watermark {
  return {
    version: 2,
    source: { identity: source.identity, snapshot: source.snapshot, startedAt: source.startedAt },
    target: { identity: target.identity, xid: targetXid, snapshot: target.snapshot, begun: targetBegun },
    tables: Object.fromEntries(tables.map((t) => [t.sql, { signature: tableSignature(t), source: t.oids.source, target: t.oids.target }])),
  };
}

function isWatermark(value: unknown): value is Watermark {
  const w = value as Partial<Watermark> | null;
  return typeof w === 'object' && w !== null && w.version === 2 && typeof w.source?.snapshot === 'string' && typeof w.source.startedAt === 'string'
    && typeof w.target?.snapshot === 'string' && typeof w.target.xid === 'string' && typeof w.target.begun === 'string'
    && typeof w.tables === 'object' && w.tables !== null;
}

type Side = 'source' | 'target';

/** How the catalog rows of one side are judged: written since the watermark's horizon there, or not. */
type Horizons = Record<Side, ChangedSince>;

/**
 * Why the rows of `table` cannot be judged by their xmin alone, or undefined when they can: the table must be
 * the one the watermark names on each side (same oid) with the same signature, and none of the catalog rows
 * that define what its bytes mean (DefinitionMarks) may have been written since the watermark's horizon.
 */
function whyNotTrusted(table: TablePlan, watermark: Watermark, now: Marks, horizons: Horizons, since: string): string | undefined {
  const recorded = watermark.tables[table.sql];
  if (!recorded) return `it was not copied by ${since}`;
  if (recorded.signature !== tableSignature(table)) return `its key, copied columns or digest form changed since ${since}`;
  for (const side of ['source', 'target'] as const) {
    const definition = now[side].definitions?.tables[table.name];
    if (!definition) return `its definition on the ${side} could not be read`;
    if (definition.oid !== recorded[side]) return `the table was replaced on the ${side} since ${since}`;
  }
  for (const side of ['source', 'target'] as const) {
    const definition = now[side].definitions?.tables[table.name];
    if (definition?.xmins.some((xmin) => writtenSince(xmin, horizons[side]))) {
      return `its columns, their defaults or their types changed on the ${side} since ${since}`;
    }
    if (definition && writtenSince(definition.relation, horizons[side])) {
      return `the table was truncated, rewritten or altered on the ${side} since ${since}`;
    }
  }
  return undefined;
}

/** Why no table can go by the watermark, or the horizons each side's changes are judged from. */
function judgeServers(watermark: unknown, now: Marks, since: string): { everyTable: string } | { watermark: Watermark; rows: Horizons; catalog: Horizons } {
  if (!isWatermark(watermark)) {
    return { everyTable: (watermark as { version?: unknown } | null)?.version === 1
      ? `${since} was recorded by an older archon-sync, which did not note what defines each table`
      : `the watermark of ${since} is not one this archon-sync can read` };
  }
  if (watermark.source.startedAt !== now.source.startedAt) return { everyTable: `the source server restarted since ${since} (its data directory may have been put back)` };
  const stale = { everyTable: `the transaction ids ${since} recorded do not fit these servers now (too old, or from their future)` };
  let sourceSince: bigint;
  let targetSince: bigint;
  let targetBegun: bigint;
  let ownXid: bigint;
  try {
    sourceSince = snapshotBounds(watermark.source.snapshot).xmin;
    targetSince = snapshotBounds(watermark.target.snapshot).xmin;
    targetBegun = snapshotBounds(watermark.target.begun).xmin;
    ownXid = BigInt(watermark.target.xid);
  } catch {
    return stale;
  }
  const sourceNow = snapshotBounds(now.source.snapshot).xmax;
  const targetNow = snapshotBounds(now.target.snapshot).xmax;
  const fresh = (from: bigint, current: bigint) => from <= current && current - from < MAX_MARK_AGE;
  if (!fresh(sourceSince, sourceNow) || !fresh(targetSince, targetNow) || !fresh(targetBegun, targetNow) || ownXid >= targetNow) return stale;
  const source = { now: sourceNow, since: sourceSince };
  // A source database created again (even under its old name and oid) from a template may hold rows older than
  // the watermark that the last run never saw. A target created again from a copy of itself brings back its
  // history table with its rows: the watermark it holds describes them, so only the source's is judged.
  const database = now.source.definitions?.database;
  if (database === undefined) return { everyTable: 'the source\'s catalog could not be read' };
  if (writtenSince(database, source)) return { everyTable: `the source database was re-created or altered since ${since}` };
  return {
    watermark,
    rows: { source, target: { now: targetNow, since: targetSince, ownXid } },
    catalog: { source, target: { now: targetNow, since: targetBegun, ownXid } },
  };
}

/**
 * What the watermark of run `since` allows now, per table: a change filter on each side, when the source is
 * running since then, the snapshots are from the same servers' pasts (not newer than now) and less than 2^31
 * transactions old, the source database was not created again, and the table's definition is unchanged
 * (whyNotTrusted); else the reason it is compared in full.
 */
export function judgeWatermark(watermark: unknown, now: Marks, tables: readonly TablePlan[], since: string): WatermarkVerdict {
  const filters = new Map<string, ChangeFilter>();
  const comparedInFull = new Map<string, string>();
  const servers = judgeServers(watermark, now, since);
  if ('everyTable' in servers) {
    for (const table of tables) comparedInFull.set(table.name, servers.everyTable);
    return { filters, comparedInFull };
  }
  for (const table of tables) {
    const reason = whyNotTrusted(table, servers.watermark, now, servers.catalog, since);
    if (reason) {
      comparedInFull.set(table.name, reason);
      continue;
    }
    filters.set(table.sql, { source: changedSinceSql('r', servers.rows.source), target: changedSinceSql('r', servers.rows.target) });
  }
  return { filters, comparedInFull };
}

export interface Marks {
  source: ServerMark;
  target: ServerMark;
}

/**
 * What the newest watermark of a committed run between these two servers (`found`, read from the target's history
 * table with the marks: setUpComparison) allows for `tables`, judged by both sides' marks read after the locks.
 * Without `trusted`, compare everything; `comparedInFull` says, per table, why a watermark that was found could
 * not spare it a full comparison.
 */
export function judgeLastRun(found: { syncId: string; watermark: unknown } | undefined, marks: Marks, tables: readonly TablePlan[]): { trusted?: TrustedChanges | undefined; comparedInFull?: Map<string, string> | undefined } {
  if (!found) return {};
  const { filters, comparedInFull } = judgeWatermark(found.watermark, marks, tables, found.syncId);
  return { trusted: filters.size > 0 ? { sinceSyncId: found.syncId, filters } : undefined, comparedInFull };
}
