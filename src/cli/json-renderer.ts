// For machines: one JSON object per line on stdout (pino); progress and index progress each at most every 2 s.

import { pino, type Logger } from 'pino';
import { redact, type Wording } from '../index.js';
import { errorFields, errorLine, warningText, type Renderer } from './renderer.js';
import { undoneLine } from './undo-command.js';
import { cliWording } from './wording.js';

const JSON_PROGRESS_INTERVAL_MS = 2000;

export function jsonRenderer(logger: Logger = pino({ base: { tool: 'archon-sync' } }), now: () => number = Date.now, wording: Wording = cliWording()): Renderer {
  // The first reading of each kind goes out at once.
  let lastProgress = Number.NEGATIVE_INFINITY;
  let lastIndexProgress = Number.NEGATIVE_INFINITY;
  return {
    plan(header, plan, dryRun) {
      const decided = plan.preview;
      logger.info({
        event: 'plan', dryRun, direction: header.direction, source: header.source, target: header.target,
        servers: Object.fromEntries(([['source', plan.source], ['target', plan.target]] as const).map(([side, s]) =>
          [side, { version: s.versionShort, tls: s.ssl, pooler: s.pooler ?? 'direct', user: s.user }])),
        totalRows: plan.totalRows,
        tables: plan.tables.map((t) => ({
          table: t.name, rows: t.sourceRows, format: t.format, indexes: t.indexes.map((i) => i.name),
          ...(decided?.tables.find((d) => d.table === t.name) ?? {}),
        })),
        ...(decided ? {
          preview: {
            mode: decided.mode, triggerSuppression: decided.triggerSuppression, comparedSince: decided.comparedSince ?? null, comparedInFull: decided.comparedInFull, totals: decided.totals,
            guard: decided.guard, targetEdits: decided.targetEdits, backup: decided.backup ?? null,
          },
        } : {}),
        skippedTables: plan.skippedTables,
        warnings: plan.warnings.map((w) => redact(w)),
      }, 'plan');
    },
    event(event) {
      switch (event.type) {
        case 'warning':
          logger.warn({ event: 'warning' }, warningText(event, wording));
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
        triggerSuppression: result.triggerSuppression, verify: result.verify, comparedSince: result.comparedSince ?? null, comparedInFull: result.comparedInFull,
        tables: result.tables, targetEdits: result.targetEdits, backup: result.backup,
      }, 'completed');
    },
    verification(header, result) {
      logger.info({ event: 'verified', source: header.source, target: header.target, equal: result.equal, seconds: result.seconds, tables: result.tables,
        comparedSince: result.comparedSince, readEveryRow: result.readEveryRow },
        result.equal ? 'equal' : 'not equal');
    },
    undone(result) {
      logger.info({ event: 'undone', ...result }, undoneLine(result));
    },
    history(rows) {
      logger.info({ event: 'history', rows }, 'history');
    },
    info(message) {
      logger.info({ event: 'info' }, redact(message));
    },
    error(error) {
      logger.error({ event: 'failed', ...errorFields(error) }, errorLine(error, wording));
    },
    close() {
      logger.flush();
    },
  };
}
