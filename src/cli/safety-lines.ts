// The lines that say what a run destroys, what it would refuse and whose edits it overwrites: under the plan,
// in the prompt and in the summary, so nobody loses rows without having read about them first.

import { formatBytes, type BackupEstimate, type BackupReport, type SyncPreview, type TargetEditsSummary, type Wording } from '../index.js';

const fmt = new Intl.NumberFormat('en-US');

function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmt.format(n)} ${n === 1 ? one : many}`;
}

/**
 * The destructive totals on one line: the rows deleted per table (most first), the rows overwritten, and the
 * tables replaced whole. Empty when the run destroys nothing.
 */
export function destructiveLine(preview: SyncPreview, target: string): string {
  const deleting = preview.tables.filter((t) => t.guardDeletes > 0).sort((a, b) => b.guardDeletes - a.guardDeletes);
  const overwrites = preview.tables.filter((t) => t.mode === 'incremental').reduce((s, t) => s + t.updates, 0);
  const full = preview.tables.filter((t) => t.mode === 'full' && t.targetRows > 0);
  const parts: string[] = [];
  if (deleting.length > 0) parts.push(`deletes ${deleting.map((t, i) => `${fmt.format(t.guardDeletes)}${i === 0 ? (t.guardDeletes === 1 ? ' row' : ' rows') : ''} of ${t.table}`).join(', ')}`);
  if (overwrites > 0) parts.push(`overwrites ${plural(overwrites, 'row')}`);
  if (full.length > 0) {
    const before = full.reduce((s, t) => s + t.targetRows, 0);
    const after = full.reduce((s, t) => s + t.sourceRows, 0);
    const names = full.length <= 3 ? full.map((t) => t.table).join(', ') : plural(full.length, 'table');
    parts.push(`replaces all ${fmt.format(before)} rows of ${names} (copied in full: ${fmt.format(before)} → ${fmt.format(after)})`);
  }
  return parts.length === 0 ? '' : `in ${target} this ${parts.join('; ')}`;
}

/** Per table: `all 10,000 → 10 (−9,990)` for a full copy that replaces rows, for the plan's table. */
export function replacedCell(t: SyncPreview['tables'][number]): string {
  if (t.mode !== 'full' || t.targetRows === 0) return '';
  const delta = t.sourceRows - t.targetRows;
  return `all ${fmt.format(t.targetRows)} → ${fmt.format(t.sourceRows)} (${delta >= 0 ? '+' : '−'}${fmt.format(Math.abs(delta))})`;
}

/** The guard's verdict where a dry run shows it: the line the sync would end with. */
export function refusalLine(preview: SyncPreview, wording: Wording, target: string): string | undefined {
  if (preview.guard.refused.length === 0) return undefined;
  const share = `${Math.round(preview.guard.maxDeleteShare * 1000) / 10} %`;
  const tables = preview.guard.refused.map((t, i) => `${fmt.format(t.deletes)} of ${fmt.format(t.targetRows)}${i === 0 ? ' rows' : ''} of ${t.table}`).join(', ');
  return `a sync would be REFUSED: it would delete ${tables} in ${target}, more than ${share} (${wording.option('maxDeleteShare')}); nothing would be changed`;
}

/** The target's own edits: counted with their first keys, or the tables where they cannot be told apart. */
export function targetEditsLines(edits: TargetEditsSummary, target: string): string[] {
  const lines: string[] = [];
  const total = edits.inserted + edits.updated + edits.deleted;
  if (total > 0) {
    lines.push(`${target} has ${plural(total, 'row')} of its own written since the last sync that this run overwrites:`);
    for (const t of edits.tables) {
      const kinds = ([['inserted', t.inserted], ['updated', t.updated], ['deleted', t.deleted]] as const).filter(([, n]) => n > 0).map(([k, n]) => `${fmt.format(n)} ${k}`);
      lines.push(`  ${t.table}: ${kinds.join(', ')}${t.keys.length > 0 ? ` — ${t.keys.join(' | ')}${t.inserted + t.updated + t.deleted > t.keys.length ? ' | …' : ''}` : ''}`);
    }
  }
  return lines;
}

/** One line: what a run keeps (an estimate) or kept (a report) so it can be undone, or why it cannot. */
export function backupLine(backup: BackupEstimate | BackupReport, wording: Wording): string {
  if ('fits' in backup) {
    return backup.fits
      ? `undo: the old rows this run replaces are kept on this machine (${backup.upperBound ? 'up to' : 'about'} ${formatBytes(backup.bytes)} in ${backup.dir})`
      : `cannot keep the old rows of this run for undo: ${backup.reason ?? ''}${backup.option ? ` (${wording.option(backup.option)})` : ''}; it goes on without them on a terminal, and refuses without one (${wording.option('backup')} goes on)`;
  }
  return backup.kept
    ? `undo with \`archon-sync undo ${backup.syncId}\`: ${formatBytes(backup.bytes)} of old rows from ${plural(backup.tables, 'table')} kept in ${backup.dir}`
    : backup.nothingToUndo ? 'nothing to undo: the run changed no rows' : `not undoable: ${backup.reason}`;
}
