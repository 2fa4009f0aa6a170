// The lines that say what a run kept for undo, and what an undo did (for both renderers).

import { formatBytes as size, type BackupEstimate, type BackupReport, type UndoResult } from '../index.js';

/** One line: what a run keeps (an estimate) or kept (a report) so it can be undone, or why it cannot. */
export function backupLine(backup: BackupEstimate | BackupReport): string {
  if ('fits' in backup) {
    return backup.fits
      ? `undo: the old rows this run replaces are kept on this machine (${backup.upperBound ? 'up to' : 'about'} ${size(backup.bytes)} in ${backup.dir})`
      : `cannot keep the old rows of this run for undo: ${backup.reason ?? ''}`;
  }
  return backup.kept
    ? `undo with \`archon-sync undo ${backup.syncId}\`: ${size(backup.bytes)} of old rows from ${backup.tables} table${backup.tables === 1 ? '' : 's'} kept in ${backup.dir}`
    : `not undoable: ${backup.reason}`;
}

export function undoneLine(result: UndoResult): string {
  const rows = result.tables.reduce((sum, t) => sum + t.restored, 0);
  return `undone ${result.undid}${result.syncId ? ` (recorded as ${result.syncId})` : ''}: ${result.tables.length} table${result.tables.length === 1 ? '' : 's'} put back as they were, `
    + `${rows} old rows restored, ${result.sequences} sequence${result.sequences === 1 ? '' : 's'} reset, in ${result.seconds.toFixed(1)} s`
    + `${result.overridden.length > 0 ? `; forced over ${result.overridden.length} change${result.overridden.length === 1 ? '' : 's'} since` : ''}`;
}
