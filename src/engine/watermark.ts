// The watermark a committed sync leaves in its history row, and what the next run may skip because of it.

import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ServerInfo } from '../pg/catalog.js';
import { changedSinceSql, MAX_MARK_AGE, readLatestWatermark, readServerMark, snapshotBounds, type ServerIdentity, type ServerMark } from '../pg/change-marks.js';
import type { Session } from './connections.js';
import type { SyncPlan, TablePlan } from './plan.js';

/**
 * Recorded with a run before its COMMIT (history metadata `watermark`): after it, every target row written by
 * `target.xid` or older than `target.snapshot`'s xmin equals the source row of `source.snapshot` with its key,
 * for the tables listed with the columns their signature names.
 *
 * The source must not have restarted since (`startedAt`): a data directory put back from a copy rewinds its
 * transaction ids, and rows written after that could carry ids older than the snapshot. The target needs no
 * such check: its history table is put back with its rows, so the watermark it then holds describes them.
 */
export interface Watermark {
  version: 1;
  source: { identity: ServerIdentity; snapshot: string; startedAt: string };
  target: { identity: ServerIdentity; xid: string; snapshot: string };
  /** Table (quoted, qualified) → signature of what was compared and copied (key, columns, text-digested columns). */
  tables: Record<string, string>;
}

/** Which rows of a table may differ, per side: SQL conditions over row alias `r` for stageDiff. */
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

/** What the key, the copied columns and the way they are digested were: a change to any of them means compare everything. */
export function tableSignature(table: Pick<TablePlan, 'primaryKey' | 'columns' | 'textColumns'>): string {
  return createHash('sha256').update(JSON.stringify([table.primaryKey, table.columns, table.textColumns])).digest('hex').slice(0, 32);
}

/** Whether the server can give marks: PostgreSQL 13 or later and its identity readable by this role. */
export function marksReadable(server: ServerInfo): boolean {
  return server.versionNum >= 130000 && server.identityReadable;
}

export function buildWatermark(source: ServerMark, target: ServerMark, targetXid: string, tables: readonly TablePlan[]): Watermark {
  return {
    version: 1,
    source: { identity: source.identity, snapshot: source.snapshot, startedAt: source.startedAt },
    target: { identity: target.identity, xid: targetXid, snapshot: target.snapshot },
    tables: Object.fromEntries(tables.map((t) => [t.sql, tableSignature(t)])),
  };
}

function isWatermark(value: unknown): value is Watermark {
  const w = value as Partial<Watermark> | null;
  return typeof w === 'object' && w !== null && w.version === 1 && typeof w.source?.snapshot === 'string' && typeof w.source.startedAt === 'string'
    && typeof w.target?.snapshot === 'string' && typeof w.target.xid === 'string' && typeof w.tables === 'object' && w.tables !== null;
}

/**
 * The change filters a watermark allows now, or undefined when it allows none: the source must be running since
 * then, and the snapshots must be from the same servers' pasts (not newer than now) and less than 2^31
 * transactions old.
 */
export function filtersFrom(watermark: unknown, now: Marks, tables: readonly TablePlan[]): Map<string, ChangeFilter> | undefined {
  if (!isWatermark(watermark) || watermark.source.startedAt !== now.source.startedAt) return undefined;
  let sourceSince: bigint;
  let targetSince: bigint;
  let ownXid: bigint;
  try {
    sourceSince = snapshotBounds(watermark.source.snapshot).xmin;
    targetSince = snapshotBounds(watermark.target.snapshot).xmin;
    ownXid = BigInt(watermark.target.xid);
  } catch {
    return undefined;
  }
  const sourceNow = snapshotBounds(now.source.snapshot).xmax;
  const targetNow = snapshotBounds(now.target.snapshot).xmax;
  const fresh = (since: bigint, current: bigint) => since <= current && current - since < MAX_MARK_AGE;
  if (!fresh(sourceSince, sourceNow) || !fresh(targetSince, targetNow) || ownXid >= targetNow) return undefined;
  const filters = new Map<string, ChangeFilter>();
  for (const table of tables) {
    if (watermark.tables[table.sql] !== tableSignature(table)) continue;
    filters.set(table.sql, {
      source: changedSinceSql('r', { now: sourceNow, since: sourceSince }),
      target: changedSinceSql('r', { now: targetNow, since: targetSince, ownXid }),
    });
  }
  return filters;
}

export interface Marks {
  source: ServerMark;
  target: ServerMark;
}

/** Both sides' marks, read in parallel in the run's transactions; undefined when either server cannot give them. */
async function readMarks(source: { client: pg.ClientBase; server: ServerInfo }, target: { client: pg.ClientBase; server: ServerInfo }): Promise<Marks | undefined> {
  if (!marksReadable(source.server) || !marksReadable(target.server)) return undefined;
  const [s, t] = await Promise.all([readServerMark(source.client), readServerMark(target.client)]);
  return { source: s, target: t };
}

/**
 * Both sides' marks and the rows `tables` need compared, judged by the newest watermark of a committed run
 * between these two servers, read from the target's history table (which the caller knows exists). Without
 * `trusted`, compare everything; without `marks`, a server cannot give them (and this run leaves no watermark).
 */
export async function changesSinceLastRun(session: Session, plan: SyncPlan, tables: readonly TablePlan[]): Promise<{ marks?: Marks | undefined; trusted?: TrustedChanges | undefined }> {
  const marks = await readMarks({ client: session.source, server: plan.source }, { client: session.target, server: plan.target });
  if (!marks) return {};
  const found = await readLatestWatermark(session.target, marks.source.identity, marks.target.identity);
  const filters = found ? filtersFrom(found.watermark, marks, tables) : undefined;
  return { marks, trusted: found && filters && filters.size > 0 ? { sinceSyncId: found.syncId, filters } : undefined };
}
