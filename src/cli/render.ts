// Shows a run to people (plan, progress bars, summary table) or to machines (pino JSON lines on stdout).

import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { pino, type Logger } from 'pino';
import { isArchonSyncError, redact, ValidationError, type HistoryRow, type ProgressFields, type SyncEvent, type SyncPlan, type SyncResult, type TriggerSuppression, type UndoResult, type VerifyResult } from '../index.js';
import { backupLine, undoneLine } from './render-backup.js';
import { cliWording } from './wording.js';

export interface RunHeader {
  direction: string;
  source: string;
  target: string;
  syncId?: string | undefined;
}

export interface Renderer {
  plan(header: RunHeader, plan: SyncPlan, dryRun: boolean): void;
  event(event: SyncEvent): void;
  summary(result: SyncResult): void;
  verification(header: RunHeader, result: VerifyResult): void;
  history(rows: HistoryRow[]): void;
  undone(result: UndoResult): void;
  info(message: string): void;
  error(error: unknown): void;
  close(): void;
}

const fmt = new Intl.NumberFormat('en-US');

function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return cliWording(redact(message.split('\n')[0] ?? message));
}

function errorFields(error: unknown): Record<string, unknown> {
  if (isArchonSyncError(error)) {
    return { code: error.code, table: error.table, constraint: error.constraint, details: error.details };
  }
  return {};
}

/**
 * A duration for people: `45s`, `3m 05s`, `1h 02m`. Anything that is not a finite, non-negative number (an ETA
 * not known yet) is `–`, so no NaN, Infinity, null or undefined ever reaches the screen.
 */
export function formatDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds) || seconds < 0) return '–';
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total < 3600) return `${Math.floor(total / 60)}m ${pad(total % 60)}s`;
  const hours = Math.floor(total / 3600);
  return hours >= 100 ? `${hours}h` : `${hours}h ${pad(Math.floor((total % 3600) / 60))}m`;
}

/** A count with thousands separators; 0 for anything that is not a finite number. */
function count(n: number): string {
  return fmt.format(Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0);
}

const BAR_WIDTH = 20;

function bar(fraction: number | undefined, color: boolean): string {
  const f = fraction !== undefined && Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * BAR_WIDTH);
  const text = `${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}`;
  return color ? `\u001b[36m${text}\u001b[0m` : text;
}

/**
 * The first live line: the whole run in percent of its estimated cost, never a row count (a run is more than
 * its rows: index builds are most of a large one).
 */
export function overallLine(fields: ProgressFields, elapsedSeconds: number, color: boolean): string {
  const percent = Number.isFinite(fields.percent) ? Math.min(100, Math.max(0, Math.floor(fields.percent))) : 0;
  const eta = percent >= 100 ? 'done' : `ETA ${formatDuration(fields.etaSeconds)}`;
  return `${'overall'.padEnd(8)} ${bar(percent / 100, color)} ${String(percent).padStart(3)}% | elapsed ${formatDuration(elapsedSeconds)} | ${eta}`;
}

function indexCounters(build: NonNullable<ProgressFields['build']>): string {
  const parts: string[] = [];
  if (build.blocksTotal > 0) parts.push(`${count(build.blocksDone)}/${count(build.blocksTotal)} blocks`);
  if (build.tuplesTotal > 0) parts.push(`${count(build.tuplesDone)}/${count(build.tuplesTotal)} tuples`);
  else if (build.tuplesDone > 0) parts.push(`${count(build.tuplesDone)} tuples`);
  return parts.join(', ');
}

/**
 * The second live line: the current step in its own unit. Rows for copying and comparing a table; for an
 * index build, the server's phase and the blocks or tuples it reports (an index has no rows to count). Names
 * go last: on a narrow terminal it is they that get cut, not the counters.
 */
export function stepLine(fields: ProgressFields, color: boolean, lastIndex?: string): string {
  const { build } = fields;
  if (fields.phase === 'indexing' && build) {
    const counters = indexCounters(build);
    return `${'index'.padEnd(8)} ${bar(build.percent === undefined ? undefined : build.percent / 100, color)} `
      + `${build.method ? `${build.method} ` : ''}${build.phase}${counters ? `: ${counters}` : ''} | ${formatDuration(build.seconds)} | `
      + `${build.position}/${build.count} ${build.index}`;
  }
  if (fields.phase === 'indexing') {
    const total = Math.max(fields.totalIndexes, fields.indexesBuilt);
    return `${'index'.padEnd(8)} ${bar(total > 0 ? fields.indexesBuilt / total : undefined, color)} `
      + `${count(fields.indexesBuilt)}/${count(total)} indexes built${lastIndex ? ` | last ${lastIndex}` : ''}`;
  }
  if ((fields.phase === 'copy' || fields.phase === 'verification' || fields.phase === 'compare') && fields.table) {
    const verb = fields.phase === 'copy' ? 'copy' : fields.phase === 'compare' ? 'diff' : 'compare';
    return `${verb.padEnd(8)} ${bar(fields.tableTotal > 0 ? fields.tableRows / fields.tableTotal : undefined, color)} `
      + `${count(fields.tableRows)}/${count(fields.tableTotal)} rows | ${count(fields.rowsPerSecond)} rows/s | ${fields.table}`;
  }
  switch (fields.phase) {
    case 'validation': return `${'validate'.padEnd(8)} reading both catalogs, locking the target tables`;
    case 'compare': return `${'diff'.padEnd(8)} comparing per-row digests`;
    case 'copy': return `${'copy'.padEnd(8)} preparing the target tables`;
    case 'verification': return fields.percent >= 100 ? `${'done'.padEnd(8)} committed` : `${'verify'.padEnd(8)} counting rows on the target`;
  }
}

/** The words for how user triggers were kept quiet, for the summary. */
export function triggerWords(mode: TriggerSuppression): string {
  return mode === 'replica-role'
    ? 'user triggers skipped by session_replication_role = replica (no trigger fired)'
    : 'user triggers disabled by name for the load (ALTER TABLE … DISABLE TRIGGER) and enabled again before commit';
}

/** The ValidationError's problems after the first, which its one-line message only counts. */
function furtherProblems(error: unknown): string[] {
  if (!(error instanceof ValidationError)) return [];
  const problems = error.details?.problems;
  if (!Array.isArray(problems)) return [];
  return problems.slice(1).filter((p): p is string => typeof p === 'string');
}

export interface PrettyOptions {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  color: boolean;
  quiet: boolean;
  debug: boolean;
}

function paint(enabled: boolean, code: number, text: string): string {
  return enabled ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** For people: the plan and summary on stdout, the live bars on stderr (only when stderr is a terminal). */
export function prettyRenderer(options: PrettyOptions): Renderer {
  const { out, err, color, quiet } = options;
  const live = err.isTTY === true && !quiet;
  let bars: cliProgress.MultiBar | undefined;
  // The bars draw from the latest fields at their own pace (10 per second), so a burst of events costs nothing.
  let latest: ProgressFields | undefined;
  let receivedAt = 0;
  let lastIndex: string | undefined;
  const print = (line: string) => { if (!quiet) out.write(`${line}\n`); };
  // Elapsed time ticks between events: during a long step with nothing new to say, the screen still moves.
  const elapsed = () => (latest ? latest.elapsedSeconds + (Date.now() - receivedAt) / 1000 : 0);

  const startBars = () => {
    bars = new cliProgress.MultiBar({
      stream: err,
      clearOnComplete: false,
      hideCursor: true,
      fps: 10,
      // A line logged above the bars overwrites them; cli-progress redraws only changed lines unless forced.
      forceRedraw: true,
      format: (_options, _params, payload: { line?: () => string }) => payload.line?.() ?? '',
    });
    bars.create(100, 0, { line: () => (latest ? overallLine(latest, elapsed(), color) : '') });
    bars.create(100, 0, { line: () => (latest ? stepLine(latest, color, lastIndex) : '') });
  };

  const stopBars = () => {
    // One last draw flushes lines logged above the bars since the previous tick (stop() alone drops them).
    bars?.update();
    bars?.stop();
    bars = undefined;
  };

  return {
    plan(header, plan, dryRun) {
      print(`${paint(color, 1, dryRun ? 'Dry run' : 'Sync plan')}: ${header.direction}  ${header.source} → ${header.target}`);
      for (const [side, server] of [['source', plan.source], ['target', plan.target]] as const) {
        print(`  ${side}: PostgreSQL ${server.versionShort}, ${server.ssl ? 'TLS' : 'no TLS'}, ${server.pooler ?? 'direct'}, role ${server.user}`);
      }
      const preview = plan.preview;
      const head = ['#', 'table', 'rows', 'format', ...(preview ? ['mode', 'insert', 'update', 'delete', 'why full'] : ['indexes to rebuild'])];
      const t = new Table({ head, style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
      plan.tables.forEach((tp, i) => {
        const p = preview?.[tp.name];
        const changes = p ? [p.inserts, p.updates, p.deletes].map((n) => (n === undefined ? (p.mode === 'full' ? 'all' : '') : fmt.format(n))) : [];
        t.push([i + 1, tp.name, fmt.format(tp.sourceRows), tp.format, ...(p ? [p.mode, ...changes, p.reason ?? ''] : [tp.indexes.length])]);
      });
      print(t.toString());
      if (preview) {
        const moved = plan.tables.map((tp) => preview[tp.name]).filter((p) => p?.mode === 'incremental');
        const rows = moved.reduce((sum, p) => sum + (p?.inserts ?? 0) + (p?.updates ?? 0) + (p?.deletes ?? 0), 0);
        print(`${moved.length} of ${plan.tables.length} tables incremental (${fmt.format(rows)} rows to change); ${plan.tables.length - moved.length} copied in full`);
      } else {
        print(`${fmt.format(plan.totalRows)} rows in ${plan.tables.length} tables; ${plan.tables.reduce((s, tp) => s + tp.indexes.length, 0)} indexes to rebuild`);
      }
      if (plan.skippedTables.length > 0) print(`skipped (on neither side): ${plan.skippedTables.join(', ')}`);
      if (plan.backup) print(plan.backup.fits ? backupLine(plan.backup) : paint(color, 33, `warning: ${cliWording(backupLine(plan.backup))}`));
      for (const warning of plan.warnings) print(paint(color, 33, `warning: ${cliWording(redact(warning))}`));
    },
    event(event) {
      if (event.type === 'warning') {
        if (plannedWarning(event.message)) return;
        const line = paint(color, 33, `warning: ${cliWording(redact(event.message))}`);
        // Above the bars while they are drawn, or the next redraw would paint over it.
        if (bars) bars.log(`${line}\n`);
        else err.write(`${line}\n`);
        return;
      }
      if (event.type === 'plan' || event.type === 'trigger-mode') return;
      if (event.type === 'index') lastIndex = event.index;
      if (!live) {
        if (quiet) return;
        if (event.type === 'table-end') {
          const verb = event.phase === 'copy' ? 'copied' : 'compared';
          err.write(`${verb} ${event.table ?? ''}: ${fmt.format(event.tableRows)} rows in ${event.seconds.toFixed(1)} s\n`);
        }
        return;
      }
      latest = event;
      receivedAt = Date.now();
      if (!bars) startBars();
    },
    summary(result) {
      // Committed: the last frame says so, whatever the engine's last event was.
      if (bars && latest) {
        latest = { ...latest, phase: 'verification', table: undefined, build: undefined, percent: 100, etaSeconds: 0 };
      }
      stopBars();
      const t = new Table({ head: ['table', 'mode', 'rows copied', 'inserted', 'updated', 'deleted', 'seconds', 'source = target'], style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
      for (const r of result.tables) {
        const changes = r.mode === 'full' ? ['all', '', ''] : [r.inserted, r.updated, r.deleted].map((n) => fmt.format(n));
        t.push([r.table, r.mode, fmt.format(r.copiedRows), ...changes, r.seconds.toFixed(2), r.targetRows === r.sourceRows ? 'yes' : 'NO']);
      }
      const rows = result.tables.reduce((s, r) => s + r.copiedRows, 0);
      t.push(['total', '', fmt.format(rows), '', '', '', result.durations.total.toFixed(2), 'verified']);
      print(t.toString());
      const checked = result.verify === 'checksum' ? 'every row\'s checksum verified' : 'row counts verified';
      const incremental = result.tables.filter((r) => r.mode === 'incremental').length;
      const since = result.comparedSince ? `, only rows written since ${result.comparedSince}` : '';
      const modes = incremental > 0 ? `; ${incremental} of ${result.tables.length} tables incremental (compare ${result.durations.compare.toFixed(1)} s${since})` : '';
      print(paint(color, 32, `completed${result.syncId ? ` ${result.syncId}` : ''}: ${fmt.format(rows)} rows copied in ${result.durations.total.toFixed(1)} s (copy ${result.durations.copy.toFixed(1)} s, indexes ${result.durations.indexing.toFixed(1)} s${modes}); ${checked}`));
      if (result.plan.skippedTables.length > 0) print(`skipped (on neither side): ${result.plan.skippedTables.join(', ')}`);
      print(triggerWords(result.triggerSuppression));
      print(cliWording(backupLine(result.backup)));
    },
    verification(header, result) {
      stopBars();
      const t = new Table({ head: ['table', 'source rows', 'target rows', 'only on source', 'only on target', 'differing', 'equal'], style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
      for (const r of result.tables) {
        t.push(r.method === 'missing'
          ? [r.table, '', '', '', '', '', `NO (missing on the ${r.missingOn ?? '?'})`]
          : [r.table, fmt.format(r.sourceRows), fmt.format(r.targetRows), r.onlyOnSource.count, r.onlyOnTarget.count,
            r.method === 'aggregate' ? (r.equal ? 0 : 'some') : r.differing.count, r.equal ? 'yes' : 'NO']);
      }
      print(`Verify: ${header.source} ↔ ${header.target}`);
      print(t.toString());
      for (const r of result.tables.filter((x) => !x.equal || x.sourceOnlyColumns.length + x.targetOnlyColumns.length > 0)) {
        for (const [label, sample] of [['only on source', r.onlyOnSource], ['only on target', r.onlyOnTarget], ['differing', r.differing]] as const) {
          if (sample.count > 0) print(`${r.table} ${label} (${sample.count}): ${sample.keys.join(' | ')}${sample.count > sample.keys.length ? ' | …' : ''}`);
        }
        if (r.sourceOnlyColumns.length > 0) print(`${r.table}: columns only on the source, not compared: ${r.sourceOnlyColumns.join(', ')}`);
        if (r.targetOnlyColumns.length > 0) print(`${r.table}: columns only on the target, not compared: ${r.targetOnlyColumns.join(', ')}`);
      }
      print(result.equal
        ? paint(color, 32, `equal: every row of ${result.tables.length} tables matches (${result.seconds.toFixed(1)} s)`)
        : paint(color, 31, `NOT equal: ${result.tables.filter((r) => !r.equal).length} of ${result.tables.length} tables differ`));
    },
    history(rows) {
      out.write(`${historyTable(rows, color)}\n`);
    },
    undone(result) {
      print(paint(color, 32, undoneLine(result)));
      for (const t of result.tables) print(`  ${t.table}: ${t.restore === 'all' ? 'emptied and reloaded' : `${fmt.format(t.deleted)} rows of the run deleted`}, ${fmt.format(t.restored)} old rows put back`);
    },
    info(message) {
      if (quiet) return;
      // Above the bars while they are drawn (e.g. "received SIGINT: cancelling"), else on stdout as ever.
      if (bars) bars.log(`${redact(message)}\n`);
      else print(redact(message));
    },
    error(error) {
      stopBars();
      err.write(`${paint(color, 31, 'archon-sync:')} ${errorLine(error)}\n`);
      // The one line above counts the others ("and 16 more problems"); here they are, one a line.
      for (const problem of furtherProblems(error)) err.write(`  - ${cliWording(redact(problem))}\n`);
      if (options.debug && error instanceof Error && error.cause) err.write(`  cause: ${redact(String((error.cause as Error).message ?? error.cause))}\n`);
    },
    close: stopBars,
  };
}

// The plan already printed these; repeating them on stderr during the run would be noise.
const shownInPlan = new Set<string>();
function plannedWarning(message: string): boolean {
  return shownInPlan.has(message);
}

const JSON_PROGRESS_INTERVAL_MS = 2000;

/** For machines: one JSON object per line on stdout (pino); progress and index progress each at most every 2 s. */
export function jsonRenderer(logger: Logger = pino({ base: { tool: 'archon-sync' } }), now: () => number = Date.now): Renderer {
  // The first reading of each kind goes out at once.
  let lastProgress = Number.NEGATIVE_INFINITY;
  let lastIndexProgress = Number.NEGATIVE_INFINITY;
  return {
    plan(header, plan, dryRun) {
      logger.info({
        event: 'plan', dryRun, direction: header.direction, source: header.source, target: header.target,
        servers: Object.fromEntries(([['source', plan.source], ['target', plan.target]] as const).map(([side, s]) =>
          [side, { version: s.versionShort, tls: s.ssl, pooler: s.pooler ?? 'direct', user: s.user }])),
        totalRows: plan.totalRows,
        backup: plan.backup ?? null,
        tables: plan.tables.map((t) => ({ table: t.name, rows: t.sourceRows, format: t.format, indexes: t.indexes.map((i) => i.name), ...(plan.preview?.[t.name] ?? {}) })),
        skippedTables: plan.skippedTables,
        warnings: plan.warnings.map((w) => cliWording(redact(w))),
      }, 'plan');
    },
    event(event) {
      switch (event.type) {
        case 'warning':
          logger.warn({ event: 'warning' }, cliWording(redact(event.message)));
          return;
        case 'plan':
          return;
        case 'trigger-mode':
          logger.info({ event: 'trigger-mode', mode: event.mode }, `user triggers suppressed by ${event.mode}`);
          return;
        case 'progress': {
          const at = now();
          if (at - lastProgress < JSON_PROGRESS_INTERVAL_MS) return;
          lastProgress = at;
          logger.info({ ...event, event: 'progress' }, 'progress');
          return;
        }
        case 'index-progress': {
          // The same figures the terminal shows (phase, blocks, tuples), so a cron log tells a slow build from a stuck one.
          const at = now();
          if (at - lastIndexProgress < JSON_PROGRESS_INTERVAL_MS) return;
          lastIndexProgress = at;
          logger.info({ ...event, event: 'index-progress' }, `${event.index}: ${event.build?.phase ?? 'building'}`);
          return;
        }
        case 'index-start':
        case 'done':
          // The index line and the completed line say the same at info level.
          logger.debug({ ...event, event: event.type }, event.type);
          return;
        default:
          logger.info({ ...event, event: event.type }, event.type);
      }
    },
    summary(result) {
      logger.info({
        event: 'completed', syncId: result.syncId, durations: result.durations, bytes: result.bytes,
        triggerSuppression: result.triggerSuppression, verify: result.verify, comparedSince: result.comparedSince ?? null,
        tables: result.tables, backup: result.backup,
      }, 'completed');
    },
    verification(header, result) {
      logger.info({ event: 'verified', source: header.source, target: header.target, equal: result.equal, seconds: result.seconds, tables: result.tables },
        result.equal ? 'equal' : 'not equal');
    },
    history(rows) {
      logger.info({ event: 'history', rows }, 'history');
    },
    undone(result) {
      logger.info({ event: 'undone', ...result }, undoneLine(result));
    },
    info(message) {
      logger.info({ event: 'info' }, redact(message));
    },
    error(error) {
      logger.error({ event: 'failed', ...errorFields(error) }, errorLine(error));
    },
    close() {
      logger.flush();
    },
  };
}

export function rememberPlanWarnings(plan: SyncPlan): void {
  for (const warning of plan.warnings) shownInPlan.add(warning);
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
  const t = new Table({
    head: ['sync id', 'direction', 'status', 'started (UTC)', 'seconds', 'rows', 'by', 'undo', 'error'],
    style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] },
  });
  for (const r of rows) {
    t.push([r.sync_id, r.direction, r.status, r.started_at.toISOString().replace('T', ' ').slice(0, 19), r.duration_seconds ?? '',
      r.synced_rows ?? '', r.triggered_by ?? '', r.undoneBy ? `undone (${r.undoneBy})` : r.undoable ? 'yes' : '', (r.error_message ?? '').slice(0, 60)]);
  }
  return t.toString();
}
