// Shows a run to people (plan, progress bars, summary table) or to machines (pino JSON lines on stdout).

import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { pino, type Logger } from 'pino';
import { isArchonSyncError, redact, type HistoryRow, type SyncEvent, type SyncPlan, type SyncResult, type VerifyResult } from '../index.js';
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
  let overall: cliProgress.SingleBar | undefined;
  let table: cliProgress.SingleBar | undefined;
  const print = (line: string) => { if (!quiet) out.write(`${line}\n`); };

  const stopBars = () => {
    bars?.stop();
    bars = undefined;
    overall = undefined;
    table = undefined;
  };

  return {
    plan(header, plan, dryRun) {
      print(`${paint(color, 1, dryRun ? 'Dry run' : 'Sync plan')}: ${header.direction}  ${header.source} → ${header.target}`);
      for (const [side, server] of [['source', plan.source], ['target', plan.target]] as const) {
        print(`  ${side}: PostgreSQL ${server.versionShort}, ${server.ssl ? 'TLS' : 'no TLS'}, ${server.pooler ?? 'direct'}, role ${server.user}`);
      }
      const t = new Table({ head: ['#', 'table', 'rows', 'format', 'indexes to rebuild'], style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
      plan.tables.forEach((tp, i) => t.push([i + 1, tp.name, fmt.format(tp.sourceRows), tp.format, tp.indexes.length]));
      print(t.toString());
      print(`${fmt.format(plan.totalRows)} rows in ${plan.tables.length} tables; ${plan.tables.reduce((s, tp) => s + tp.indexes.length, 0)} indexes to rebuild`);
      for (const warning of plan.warnings) print(paint(color, 33, `warning: ${cliWording(redact(warning))}`));
    },
    event(event) {
      if (event.type === 'warning') {
        if (!plannedWarning(event.message)) err.write(`${paint(color, 33, `warning: ${cliWording(redact(event.message))}`)}\n`);
        return;
      }
      if (event.type === 'plan' || event.type === 'trigger-mode') return;
      if (!live) {
        if (event.type === 'table-end' && !quiet) {
          const verb = event.phase === 'verification' ? 'compared' : 'copied';
          err.write(`${verb} ${event.table ?? ''}: ${fmt.format(event.tableRows)} rows in ${event.seconds.toFixed(1)} s\n`);
        }
        return;
      }
      if (!bars) {
        bars = new cliProgress.MultiBar({
          stream: err,
          clearOnComplete: false,
          hideCursor: true,
          etaBuffer: 50,
          format: `{label} ${color ? '\u001b[36m{bar}\u001b[0m' : '{bar}'} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}`,
          barsize: 24,
        }, cliProgress.Presets.shades_classic);
        overall = bars.create(Math.max(1, event.totalRows), 0, { label: 'overall'.padEnd(32), rate: 0 });
        table = bars.create(1, 0, { label: ''.padEnd(32), rate: 0 });
      }
      const label = `${event.phase}${event.table ? ` ${event.table}` : ''}`.slice(0, 32).padEnd(32);
      if (event.type === 'table-start') table?.setTotal(Math.max(1, event.tableTotal));
      table?.update(event.tableRows, { label, rate: fmt.format(event.rowsPerSecond) });
      overall?.update(event.syncedRows, { label: `overall (${event.percent}%)`.padEnd(32), rate: '' });
      if (event.type === 'phase' && event.phase === 'verification') stopBars();
    },
    summary(result) {
      stopBars();
      const t = new Table({ head: ['table', 'rows', 'seconds', 'rows/s', 'source = target'], style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] } });
      for (const r of result.tables) {
        t.push([r.table, fmt.format(r.copiedRows), r.seconds.toFixed(2), fmt.format(r.seconds > 0 ? Math.round(r.copiedRows / r.seconds) : r.copiedRows), r.targetRows === r.sourceRows ? 'yes' : 'NO']);
      }
      const rows = result.tables.reduce((s, r) => s + r.copiedRows, 0);
      t.push(['total', fmt.format(rows), result.durations.total.toFixed(2), fmt.format(result.durations.total > 0 ? Math.round(rows / result.durations.total) : rows), 'verified']);
      print(t.toString());
      print(paint(color, 32, `completed${result.syncId ? ` ${result.syncId}` : ''}: ${fmt.format(rows)} rows in ${result.durations.total.toFixed(1)} s (copy ${result.durations.copy.toFixed(1)} s, indexes ${result.durations.indexing.toFixed(1)} s); row counts verified`));
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
      const t = new Table({
        head: ['sync id', 'direction', 'status', 'started (UTC)', 'seconds', 'rows', 'by', 'error'],
        style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] },
      });
      for (const r of rows) {
        t.push([r.sync_id, r.direction, r.status, r.started_at.toISOString().replace('T', ' ').slice(0, 19), r.duration_seconds ?? '',
          r.synced_rows ?? '', r.triggered_by ?? '', (r.error_message ?? '').slice(0, 60)]);
      }
      out.write(`${t.toString()}\n`);
    },
    info(message) {
      print(redact(message));
    },
    error(error) {
      stopBars();
      err.write(`${paint(color, 31, 'archon-sync:')} ${errorLine(error)}\n`);
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

/** For machines: one JSON object per line on stdout (pino); progress at most every few seconds. */
export function jsonRenderer(logger: Logger = pino({ base: { tool: 'archon-sync' } })): Renderer {
  let lastProgress = 0;
  return {
    plan(header, plan, dryRun) {
      logger.info({
        event: 'plan', dryRun, direction: header.direction, source: header.source, target: header.target,
        servers: Object.fromEntries(([['source', plan.source], ['target', plan.target]] as const).map(([side, s]) =>
          [side, { version: s.versionShort, tls: s.ssl, pooler: s.pooler ?? 'direct', user: s.user }])),
        totalRows: plan.totalRows,
        tables: plan.tables.map((t) => ({ table: t.name, rows: t.sourceRows, format: t.format, indexes: t.indexes.map((i) => i.name) })),
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
          const now = Date.now();
          if (now - lastProgress < 2000) return;
          lastProgress = now;
          logger.info({ ...event, event: 'progress' }, 'progress');
          return;
        }
        default:
          logger.info({ ...event, event: event.type }, event.type);
      }
    },
    summary(result) {
      logger.info({
        event: 'completed', syncId: result.syncId, durations: result.durations, bytes: result.bytes,
        triggerSuppression: result.triggerSuppression,
        tables: result.tables,
      }, 'completed');
    },
    verification(header, result) {
      logger.info({ event: 'verified', source: header.source, target: header.target, equal: result.equal, seconds: result.seconds, tables: result.tables },
        result.equal ? 'equal' : 'not equal');
    },
    history(rows) {
      logger.info({ event: 'history', rows }, 'history');
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
