// How much keeping a run's old rows would take, and whether it can: one decision for plan() and sync().

import type { BackupEstimate } from '../../types.js';
import { freeBytes } from './store.js';

export type { BackupEstimate } from '../../types.js';

/** What keeping a table's old rows weighs: all of it for a full copy, the changed share of it for an incremental load. */
export interface TableWeight {
  table: string;
  mode: 'full' | 'incremental';
  /** pg_table_size of the target table. */
  targetBytes: number;
  /** Rows on the target now (an estimate where not counted). */
  targetRows: number;
  /** Rows an incremental load deletes or overwrites. */
  replacedRows: number;
}

/** Room left free on the backup disk: a backup must never be what fills the machine it runs on. */
export const FREE_SPACE_MARGIN = 64 * 1024 * 1024;
/** Bytes per saved key (a uuid or bigint in binary COPY, with its framing). */
const BYTES_PER_KEY = 40;

/** Bytes with a binary unit, as PostgreSQL writes sizes: 512 B, 3.2 MB, 1.0 GB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function tableBytes(weight: TableWeight): number {
  if (weight.mode === 'full') return weight.targetBytes;
  const share = Math.min(1, weight.replacedRows / Math.max(1, weight.targetRows));
  return Math.ceil(weight.targetBytes * share) + weight.replacedRows * BYTES_PER_KEY;
}

/** The estimate for `weights` against the limit and the free space in `dir`. */
export async function estimateBackup(weights: readonly TableWeight[], limits: { dir: string; limitBytes: number }, upperBound: boolean): Promise<BackupEstimate> {
  const tables = weights.map((w) => ({ table: w.table, mode: w.mode, bytes: tableBytes(w) }));
  const bytes = tables.reduce((sum, t) => sum + t.bytes, 0);
  const free = await freeBytes(limits.dir);
  const about = `keeping the old rows this run deletes or overwrites takes ${upperBound ? 'up to' : 'about'} ${formatBytes(bytes)}`;
  let reason: string | undefined;
  let option: BackupEstimate['option'];
  if (bytes > limits.limitBytes) {
    reason = `${about}, over the backup limit of ${formatBytes(limits.limitBytes)}`;
    option = 'backup.limitBytes';
  } else if (bytes + FREE_SPACE_MARGIN > free) {
    reason = `${about}, and ${limits.dir} has ${formatBytes(free)} free`;
    option = 'backup.dir';
  }
  return { bytes, upperBound, limitBytes: limits.limitBytes, freeBytes: free, dir: limits.dir, fits: reason === undefined, reason, option, tables };
}
