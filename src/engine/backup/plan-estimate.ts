// The backup estimate plan() shows: from the preview's modes and counts when there is one, else every table in full.

import type pg from 'pg';
import { countRows } from '../../pg/catalog.js';
import { readBackupTableFacts } from '../../pg/backup-statements.js';
import type { SyncPlan } from '../plan.js';
import { estimateBackup, type BackupEstimate, type TableWeight } from './estimate.js';
import { compileBackupOptions, type BackupOptions } from './options.js';

/**
 * What keeping a run's old rows would take, read in the plan's transaction. Without a preview the modes are not
 * known and every table counts as copied in full: an upper bound (exact for `mode: 'full'`).
 */
export async function planBackupEstimate(target: pg.ClientBase, plan: SyncPlan, option: BackupOptions | false | undefined): Promise<BackupEstimate | undefined> {
  const compiled = compileBackupOptions(option);
  if (!compiled.enabled) return undefined;
  const facts = await readBackupTableFacts(target, plan.tables.map((t) => t.sql));
  const incremental = plan.tables.filter((t) => plan.preview?.[t.name]?.mode === 'incremental');
  const rows = await countRows(target, incremental.map((t) => t.sql));
  const weights = plan.tables.map((table, i): TableWeight => {
    const preview = plan.preview?.[table.name];
    const at = incremental.indexOf(table);
    return preview?.mode === 'incremental'
      ? { table: table.name, mode: 'incremental', targetBytes: facts[i]?.bytes ?? 0, targetRows: rows[at] ?? 0, replacedRows: (preview.updates ?? 0) + (preview.deletes ?? 0) }
      : { table: table.name, mode: 'full', targetBytes: facts[i]?.bytes ?? 0, targetRows: 0, replacedRows: 0 };
  });
  return estimateBackup(weights, compiled, plan.preview === undefined);
}
