// The blocks of text the pretty renderer prints: the plan with its decisions, the summary, the comparison, recent runs.

import Table from 'cli-table3';
import type { SyncPlan, SyncResult, TriggerSuppression, VerifyResult, Wording } from '../index.js';
import type { RunHeader } from './renderer.js';
import { backupLine, destructiveLine, refusalLine, replacedCell, targetEditsLines } from './safety-lines.js';

const fmt = new Intl.NumberFormat('en-US');

export function paint(enabled: boolean, code: number, text: string): string {
  return enabled ? `\u001b[${code}m${text}\u001b[0m` : text;
}

function table(head: string[], color: boolean): Table.Table {
  return new Table({ head, style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
}

/** The plan as people read it: servers, one row per table (with what the run does to it, once decided), totals. */
export function planLines(header: RunHeader, plan: SyncPlan, dryRun: boolean, color: boolean, wording: Wording): string[] {
  const lines = [`${paint(color, 1, dryRun ? 'Dry run' : 'Sync plan')}: ${header.direction}  ${header.source} → ${header.target}`];
  for (const [side, server] of [['source', plan.source], ['target', plan.target]] as const) {
    lines.push(`  ${side}: PostgreSQL ${server.versionShort}, ${server.ssl ? 'TLS' : 'no TLS'}, ${server.pooler ?? 'direct'}, role ${server.user}`);
  }
  const preview = plan.preview;
  const t = table(['#', 'table', preview ? 'source rows' : 'rows', ...(preview ? ['target rows', 'mode', 'insert', 'overwrite', 'delete', 'replaced (full)', 'indexes to rebuild', 'why full'] : ['format', 'indexes'])], color);
  plan.tables.forEach((tp, i) => {
    const p = preview?.tables.find((d) => d.table === tp.name);
    t.push([i + 1, tp.name, fmt.format(tp.sourceRows), ...(p
      ? [fmt.format(p.targetRows), p.mode, fmt.format(p.mode === 'full' ? p.sourceRows : p.inserts), p.mode === 'full' ? '' : fmt.format(p.updates),
        fmt.format(p.guardDeletes), replacedCell(p), p.indexesToRebuild, p.reason ?? '']
      : [tp.format, tp.indexes.length])]);
  });
  lines.push(t.toString());
  if (preview) {
    const { totals } = preview;
    const changed = preview.tables.filter((p) => p.mode === 'incremental').reduce((sum, p) => sum + p.inserts + p.updates + p.deletes, 0);
    const since = preview.comparedSince ? `; only rows written since ${preview.comparedSince} were compared` : '';
    lines.push(`${totals.incrementalTables} of ${totals.tables} tables incremental (${fmt.format(changed)} rows to change); ${totals.fullTables} copied in full; ${totals.indexesToRebuild} indexes to rebuild${since}`);
    lines.push(...fullComparisonLines(preview));
    const destroys = destructiveLine(preview, header.target);
    lines.push(paint(color, 1, destroys ? destroys.replace(/^in /, 'In ') : `In ${header.target} this deletes and overwrites nothing`));
    lines.push(...targetEditsLines(preview.targetEdits, header.target).map((line, i) => (i === 0 ? paint(color, 33, line) : line)));
    const edits = preview.targetEdits;
    if (edits.inserted + edits.updated + edits.deleted > 0 && edits.policy === 'refuse') {
      lines.push(paint(color, 31, `a sync without a terminal would be REFUSED over them (${wording.option('targetChanges')} overwrites them)`));
    }
    const refused = refusalLine(preview, wording, header.target);
    if (refused) lines.push(paint(color, 31, refused));
    if (preview.backup) lines.push(preview.backup.fits ? backupLine(preview.backup, wording) : paint(color, 33, backupLine(preview.backup, wording)));
  } else {
    lines.push(`${fmt.format(plan.totalRows)} rows in ${plan.tables.length} tables with ${plan.tables.reduce((s, tp) => s + tp.indexes.length, 0)} indexes`);
  }
  if (plan.skippedTables.length > 0) lines.push(`skipped (on neither side): ${plan.skippedTables.join(', ')}`);
  return lines;
}

/** The words for how user triggers were kept quiet, for the summary. */
export function triggerWords(mode: TriggerSuppression): string {
  return mode === 'replica-role'
    ? 'user triggers skipped by session_replication_role = replica (no trigger fired)'
    : 'user triggers disabled by name for the load (ALTER TABLE … DISABLE TRIGGER) and enabled again before commit';
}

/**
 * Tables the last run's watermark could not vouch for, one line per reason (`archon_settings compared in full:
 * its columns … changed …`), from a sync's result or a preview: both list every planned table.
 */
export function fullComparisonLines(decided: { tables: readonly unknown[]; comparedInFull: Readonly<Record<string, string>> }): string[] {
  const byReason = new Map<string, string[]>();
  for (const [table, reason] of Object.entries(decided.comparedInFull)) byReason.set(reason, [...(byReason.get(reason) ?? []), table]);
  return [...byReason].map(([reason, tables]) => {
    const which = tables.length === decided.tables.length ? 'every table' : tables.length > 3 ? `${tables.length} tables` : tables.join(', ');
    return `${which} compared in full: ${reason}`;
  });
}

export function summaryLines(result: SyncResult, color: boolean, wording: Wording): string[] {
  const t = table(['table', 'mode', 'rows copied', 'inserted', 'updated', 'deleted', 'seconds', 'source = target'], color);
  for (const r of result.tables) {
    t.push([r.table, r.mode, fmt.format(r.copiedRows), fmt.format(r.inserted), r.mode === 'full' ? '' : fmt.format(r.updated), fmt.format(r.deleted),
      r.seconds.toFixed(2), r.targetRows === r.sourceRows ? 'yes' : 'NO']);
  }
  const rows = result.tables.reduce((s, r) => s + r.copiedRows, 0);
  t.push(['total', '', fmt.format(rows), '', '', '', result.durations.total.toFixed(2), 'verified']);
  const checked = result.verify === 'checksum' ? 'every row\'s checksum verified' : 'row counts verified';
  const incremental = result.tables.filter((r) => r.mode === 'incremental').length;
  const since = result.comparedSince ? `, only rows written since ${result.comparedSince}` : '';
  const modes = incremental > 0 ? `; ${incremental} of ${result.tables.length} tables incremental (compare ${result.durations.compare.toFixed(1)} s${since})` : '';
  return [
    t.toString(),
    paint(color, 32, `completed${result.syncId ? ` ${result.syncId}` : ''}: ${fmt.format(rows)} rows copied in ${result.durations.total.toFixed(1)} s (copy ${result.durations.copy.toFixed(1)} s, indexes ${result.durations.indexing.toFixed(1)} s${modes}); ${checked}`),
    ...fullComparisonLines(result),
    ...(result.plan.skippedTables.length > 0 ? [`skipped (on neither side): ${result.plan.skippedTables.join(', ')}`] : []),
    triggerWords(result.triggerSuppression),
    ...targetEditsLines(result.targetEdits, 'the target').map((line) => line.replace('that this run overwrites', 'and this run overwrote them')),
    backupLine(result.backup, wording),
  ];
}

export function verificationLines(header: RunHeader, result: VerifyResult, color: boolean): string[] {
  const t = table(['table', 'source rows', 'target rows', 'only on source', 'only on target', 'differing', 'equal'], color);
  for (const r of result.tables) {
    t.push(r.method === 'missing'
      ? [r.table, '', '', '', '', '', `NO (missing on the ${r.missingOn ?? '?'})`]
      : [r.table, fmt.format(r.sourceRows), fmt.format(r.targetRows), r.onlyOnSource.count, r.onlyOnTarget.count,
        r.method === 'aggregate' ? (r.equal ? 0 : 'some') : r.differing.count, r.equal ? 'yes' : 'NO']);
  }
  const lines = [`Verify: ${header.source} ↔ ${header.target}`, t.toString()];
  for (const r of result.tables.filter((x) => !x.equal || x.sourceOnlyColumns.length + x.targetOnlyColumns.length > 0)) {
    for (const [label, sample] of [['only on source', r.onlyOnSource], ['only on target', r.onlyOnTarget], ['differing', r.differing]] as const) {
      if (sample.count > 0) lines.push(`${r.table} ${label} (${sample.count}): ${sample.keys.join(' | ')}${sample.count > sample.keys.length ? ' | …' : ''}`);
    }
    if (r.sourceOnlyColumns.length > 0) lines.push(`${r.table}: columns only on the source, not compared: ${r.sourceOnlyColumns.join(', ')}`);
    if (r.targetOnlyColumns.length > 0) lines.push(`${r.table}: columns only on the target, not compared: ${r.targetOnlyColumns.join(', ')}`);
  }
  if (result.comparedSince) lines.push(`only rows written since ${result.comparedSince} were read where its watermark vouches for the table`);
  const everyRow = result.readEveryRow ?? {};
  const keyed = result.tables.filter((r) => r.method === 'keyed');
  lines.push(...fullComparisonLines({ tables: keyed, comparedInFull: everyRow }).map((line) => line.replace(' compared in full: ', ': every row read: ')));
  lines.push(result.equal
    ? paint(color, 32, `equal: every row of ${result.tables.length} tables matches (${result.seconds.toFixed(1)} s)`)
    : paint(color, 31, `NOT equal: ${result.tables.filter((r) => !r.equal).length} of ${result.tables.length} tables differ`));
  return lines;
}

/** One row of the `history` command's table; readHistory's rows fit. */
export interface HistoryTableRow {
  sync_id: string;
  direction: string;
  status: string;
  started_at: Date;
  duration_seconds: number | null;
  synced_rows: number | null;
  triggered_by: string | null;
  error_message: string | null;
  /** Whether a backup kept on this machine lets the run be undone, and by which undo it was. */
  undoable?: boolean | undefined;
  undoneBy?: string | null | undefined;
}

/** The `history` command's table of recent runs (the caller prints it). */
export function historyTable(rows: readonly HistoryTableRow[], color: boolean): string {
  const t = table(['sync id', 'direction', 'status', 'started (UTC)', 'seconds', 'rows', 'by', 'undo', 'error'], color);
  for (const r of rows) {
    t.push([r.sync_id, r.direction, r.status, r.started_at.toISOString().replace('T', ' ').slice(0, 19), r.duration_seconds ?? '',
      r.synced_rows ?? '', r.triggered_by ?? '', r.undoneBy ? `undone (${r.undoneBy})` : r.undoable ? 'yes' : '', (r.error_message ?? '').slice(0, 60)]);
  }
  return t.toString();
}
