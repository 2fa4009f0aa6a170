#!/usr/bin/env -S node --
// The archon-sync command: yargs commands over the library (sync by default, history, init-history).
// The shebang ends node's own options with `--`: Node 20 otherwise reads our --env-file as its own flag.

import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { plan as planSync } from '../engine/dry-run.js';
import { newSyncId } from '../engine/history.js';
import { sync } from '../engine/sync.js';
import { verify } from '../engine/verify.js';
import { ARCHON_TABLES } from '../engine/tables.js';
import { CancelledError, ConfigurationError } from '../errors.js';
import { connect, describeEndpoint } from '../pg/connect.js';
import { readHistory } from '../pg/history-statements.js';
import { redact } from '../pg/redact.js';
import { DIRECTIONS, loadEndpoints, resolveDirection, type Direction } from './config.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { confirmOverwrite } from './prompt.js';
import { jsonRenderer, prettyRenderer, rememberPlanWarnings, type Renderer } from './render.js';
import { abortOnSignals } from './signals.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface CommonArgs {
  'env-file': string;
  'log-format': 'pretty' | 'json';
  quiet: boolean;
  'connect-timeout': number;
}

interface SyncArgs extends CommonArgs {
  direction: Direction;
  'dry-run': boolean;
  'skip-confirm': boolean;
  tables: string[] | undefined;
  exclude: string[] | undefined;
  'lock-timeout': number;
  'triggered-by': string;
  'maintenance-work-mem': string;
  'parallel-maintenance-workers': number;
  history: boolean;
  verify: 'count' | 'checksum';
  sample: number;
}

const stdinIsTty = process.stdin.isTTY === true;
const debug = process.env.DEBUG !== undefined && process.env.DEBUG !== '';

function makeRenderer(args: CommonArgs): Renderer {
  if (args['log-format'] === 'json') return jsonRenderer();
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return prettyRenderer({ out: process.stdout, err: process.stderr, color, quiet: args.quiet, debug });
}

/** One line on stderr, whatever the log format: cron mails and people both see it. */
function reportFailure(renderer: Renderer, args: CommonArgs, error: unknown): number {
  renderer.error(error);
  if (args['log-format'] === 'json') {
    process.stderr.write(`archon-sync: ${redact(error instanceof Error ? error.message : String(error))}\n`);
  }
  return exitCodeFor(error);
}

/** Test-only: SQL run in the target transaction just before verification, to prove a mismatch rolls back. */
function testHookBeforeVerify() {
  const sql = process.env.ARCHON_SYNC_TEST_BEFORE_VERIFY_SQL;
  return sql ? async (client: { query(sql: string): Promise<unknown> }) => { await client.query(sql); } : undefined;
}

function selectTables(args: { tables: string[] | undefined; exclude: string[] | undefined }): string[] {
  const include = args.tables?.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const exclude = new Set(args.exclude?.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean) ?? []);
  const base = include && include.length > 0 ? include : [...ARCHON_TABLES];
  const unknownExcluded = [...exclude].filter((t) => !base.includes(t));
  if (unknownExcluded.length > 0) {
    throw new ConfigurationError(`--exclude names table(s) not in the selection: ${unknownExcluded.join(', ')}`);
  }
  const tables = base.filter((t) => !exclude.has(t));
  if (tables.length === 0) throw new ConfigurationError('--tables/--exclude leave no table to copy');
  return tables;
}

async function runSync(args: SyncArgs): Promise<number> {
  const renderer = makeRenderer(args);
  try {
    const endpoints = loadEndpoints(process.env, args['env-file'], process.argv.some((a) => a.startsWith('--env-file')));
    const { source, target, sourceDb, targetDb } = resolveDirection(args.direction, endpoints);
    const tables = selectTables(args);
    const sourceLabel = describeEndpoint(source, 'source').label;
    const targetLabel = describeEndpoint(target, 'target').label;
    if (!args['dry-run'] && !args['skip-confirm'] && !stdinIsTty) {
      throw new ConfigurationError('refusing to overwrite the target without confirmation: no terminal to ask on; add --skip-confirm (e.g. in cron)');
    }
    const controller = new AbortController();
    const stopSignals = abortOnSignals(controller, (signal) => {
      renderer.info(`received ${signal}: cancelling, the target is being rolled back (press Ctrl-C again to exit at once)`);
    });
    try {
      const connection = {
        source, target, tables, signal: controller.signal,
        connectTimeoutMs: args['connect-timeout'] * 1000,
        lockTimeoutMs: args['lock-timeout'] * 1000,
      };
      const header = { direction: args.direction, source: `${sourceDb} ${sourceLabel}`, target: `${targetDb} ${targetLabel}` };
      const thePlan = await planSync(connection);
      rememberPlanWarnings(thePlan);
      renderer.plan(header, thePlan, args['dry-run']);
      if (args['dry-run']) return EXIT.ok;
      if (!args['skip-confirm']) {
        const ok = await confirmOverwrite(
          `This replaces all rows of ${thePlan.tables.length} tables in the ${targetDb} database ${targetLabel}. Type "yes" to continue: `,
          process.stdin, process.stderr,
        );
        if (!ok) throw new CancelledError('not confirmed; nothing was changed');
      }
      const result = await sync({
        ...connection,
        onEvent: (event) => renderer.event(event),
        maintenanceWorkMem: args['maintenance-work-mem'],
        maxParallelMaintenanceWorkers: args['parallel-maintenance-workers'],
        history: args.history ? { syncId: newSyncId(), direction: args.direction, triggeredBy: args['triggered-by'], sourceDb, targetDb } : false,
        beforeVerify: testHookBeforeVerify(),
        verify: args.verify,
        sampleLimit: args.sample,
      });
      renderer.summary(result);
      return EXIT.ok;
    } finally {
      stopSignals();
    }
  } catch (error) {
    return reportFailure(renderer, args, error);
  } finally {
    renderer.close();
  }
}

interface VerifyArgs extends CommonArgs {
  direction: Direction;
  tables: string[] | undefined;
  exclude: string[] | undefined;
  sample: number;
  'lock-timeout': number;
}

async function runVerify(args: VerifyArgs): Promise<number> {
  const renderer = makeRenderer(args);
  try {
    const endpoints = loadEndpoints(process.env, args['env-file'], process.argv.some((a) => a.startsWith('--env-file')));
    const { source, target, sourceDb, targetDb } = resolveDirection(args.direction, endpoints);
    const header = {
      direction: args.direction,
      source: `${sourceDb} ${describeEndpoint(source, 'source').label}`,
      target: `${targetDb} ${describeEndpoint(target, 'target').label}`,
    };
    const controller = new AbortController();
    const stopSignals = abortOnSignals(controller, (signal) => renderer.info(`received ${signal}: stopping`));
    try {
      const result = await verify({
        source, target, tables: selectTables(args), signal: controller.signal, sampleLimit: args.sample,
        connectTimeoutMs: args['connect-timeout'] * 1000, lockTimeoutMs: args['lock-timeout'] * 1000,
        onEvent: (event) => renderer.event(event),
      });
      renderer.verification(header, result);
      return result.equal ? EXIT.ok : EXIT.verification;
    } finally {
      stopSignals();
    }
  } catch (error) {
    return reportFailure(renderer, args, error);
  } finally {
    renderer.close();
  }
}

interface HistoryArgs extends CommonArgs {
  direction: Direction | undefined;
  database: 'local' | 'remote' | undefined;
  limit: number;
  json: boolean;
}

function historyDatabase(args: { direction: Direction | undefined; database: 'local' | 'remote' | undefined }): 'local' | 'remote' {
  if (args.database) return args.database;
  if (args.direction) return args.direction === 'local-to-remote' ? 'remote' : 'local';
  return 'remote';
}

async function runHistory(args: HistoryArgs): Promise<number> {
  const renderer = makeRenderer(args);
  try {
    const endpoints = loadEndpoints(process.env, args['env-file'], process.argv.some((a) => a.startsWith('--env-file')));
    const database = historyDatabase(args);
    const client = await connect(endpoints[database], { side: database, connectTimeoutMs: args['connect-timeout'] * 1000 });
    try {
      const exists = await client.query<{ found: boolean }>(`SELECT to_regclass('archon_sync_history') IS NOT NULL AS found`);
      if (!exists.rows[0]?.found) {
        throw new ConfigurationError(`the ${database} database has no archon_sync_history table; create it with \`archon-sync init-history --database ${database}\``);
      }
      const rows = await readHistory(client, args.limit, args.direction);
      if (args.json || args['log-format'] === 'json') {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
      } else {
        const { default: Table } = await import('cli-table3');
        const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
        const t = new Table({
          head: ['sync id', 'direction', 'status', 'started (UTC)', 'seconds', 'rows', 'by', 'error'],
          style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [] },
        });
        for (const r of rows) {
          t.push([r.sync_id, r.direction, r.status, r.started_at.toISOString().replace('T', ' ').slice(0, 19), r.duration_seconds ?? '',
            r.synced_rows ?? '', r.triggered_by ?? '', (r.error_message ?? '').slice(0, 60)]);
        }
        process.stdout.write(`${t.toString()}\n`);
      }
      return EXIT.ok;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    return reportFailure(renderer, args, error);
  }
}

async function runInitHistory(args: HistoryArgs): Promise<number> {
  const renderer = makeRenderer(args);
  try {
    const endpoints = loadEndpoints(process.env, args['env-file'], process.argv.some((a) => a.startsWith('--env-file')));
    const database = historyDatabase(args);
    const ddl = readFileSync(new URL('../../../schema/sync-history.sql', import.meta.url), 'utf8');
    const client = await connect(endpoints[database], { side: database, connectTimeoutMs: args['connect-timeout'] * 1000 });
    try {
      await client.query(ddl);
      renderer.info(`archon_sync_history is ready in the ${database} database ${describeEndpoint(endpoints[database]).label}`);
      return EXIT.ok;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    return reportFailure(renderer, args, error);
  }
}

function commonOptions<T>(y: Argv<T>) {
  return y
    .option('env-file', { type: 'string', default: '.env', describe: 'file with LOCAL_DATABASE_URI / REMOTE_DATABASE_URI (the environment wins)' })
    .option('log-format', { choices: ['pretty', 'json'] as const, default: process.stdout.isTTY ? 'pretty' as const : 'json' as const, defaultDescription: 'pretty on a terminal, json otherwise', describe: 'pretty for people, JSON lines (pino) for cron and log collectors' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only errors' })
    .option('connect-timeout', { type: 'number', default: 10, describe: 'seconds to wait for each connection (connect_timeout in a URI wins)' });
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const parser = yargs(argv)
    .scriptName('archon-sync')
    .usage('$0 --direction=local-to-remote|remote-to-local [options]\n\nCopies the 17 Archon tables from one database to the other in one transaction: the target ends exactly like the source, or exactly as it was.')
    .command('$0', 'sync the tables (the default command)', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, demandOption: '(use --direction=local-to-remote or --direction=remote-to-local)', describe: 'which way to copy' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'show the plan and exit; writes nothing anywhere' })
      .option('skip-confirm', { type: 'boolean', default: false, describe: 'do not ask before overwriting (required without a terminal)' })
      .option('tables', { type: 'string', array: true, describe: 'copy only these tables (comma-separated or repeated)', defaultDescription: 'the 17 Archon tables' })
      .option('exclude', { type: 'string', array: true, describe: 'leave these tables out' })
      .option('lock-timeout', { type: 'number', default: 10, describe: 'seconds to wait for each target table lock' })
      .option('triggered-by', { type: 'string', default: stdinIsTty ? 'CLI' : 'cron', defaultDescription: 'CLI on a terminal, cron otherwise', describe: 'recorded in archon_sync_history' })
      .option('maintenance-work-mem', { type: 'string', default: '256MB', describe: 'memory for rebuilding indexes (SET LOCAL on the target)' })
      .option('parallel-maintenance-workers', { type: 'number', default: 2, describe: 'parallel workers for index builds (SET LOCAL on the target)' })
      .option('history', { type: 'boolean', default: true, describe: 'record the run in the target\'s archon_sync_history (--no-history: do not)' })
      .option('verify', { choices: ['count', 'checksum'] as const, default: 'count' as const, describe: 'before commit, compare row counts, or every row\'s checksum too (slower; names differing keys)' })
      .option('sample', { type: 'number', default: 10, describe: 'example keys to report per kind of difference' }),
    async (args) => { exitCode = await runSync(args); })
    .command('verify', 'compare the tables row by row between the two databases; writes nothing (exit 0 equal, 4 not)', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, demandOption: '(use --direction=local-to-remote or --direction=remote-to-local)', describe: 'which side is the source' })
      .option('tables', { type: 'string', array: true, describe: 'compare only these tables', defaultDescription: 'the 17 Archon tables' })
      .option('exclude', { type: 'string', array: true, describe: 'leave these tables out' })
      .option('sample', { type: 'number', default: 10, describe: 'example keys to report per kind of difference' })
      .option('lock-timeout', { type: 'number', default: 10, describe: 'seconds to wait for a table lock while reading' }),
    async (args) => { exitCode = await runVerify(args); })
    .command('history', 'show recent runs from archon_sync_history', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, describe: 'only runs in this direction (and read them from its target)' })
      .option('database', { choices: ['local', 'remote'] as const, describe: 'which database to read', defaultDescription: 'the direction\'s target, else remote' })
      .option('limit', { type: 'number', default: 20, describe: 'how many runs' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
    async (args) => { exitCode = await runHistory(args); })
    .command('init-history', 'create the archon_sync_history table (idempotent)', (y) => commonOptions(y)
      .option('database', { choices: ['local', 'remote'] as const, describe: 'where to create it', defaultDescription: 'remote' })
      .option('direction', { choices: DIRECTIONS, describe: 'create it in this direction\'s target' }),
    async (args) => { exitCode = await runInitHistory(args as unknown as HistoryArgs); })
    .epilog([
      'Environment:',
      '  LOCAL_DATABASE_URI   postgresql://user:password@host:port/db of the local (Docker) Supabase',
      '  REMOTE_DATABASE_URI  postgresql://user:password@host:port/db of the remote (cloud) Supabase',
      '  NO_COLOR             no colours;  DEBUG=1  print error causes',
      '',
      'Exit codes: 0 completed · 1 bad arguments or configuration · 2 cannot connect · 3 validation or copy failed (target rolled back) · 4 verification mismatch (target rolled back) · 5 cancelled',
      '',
      'Examples:',
      '  archon-sync --direction=remote-to-local                 # by hand: shows the plan, asks for "yes"',
      '  15 3 * * * cd /srv/archon && archon-sync --direction=local-to-remote --skip-confirm --log-format=json >> /var/log/archon-sync.log 2>&1 || echo "archon-sync failed: $?" | mail -s archon-sync ops',
    ].join('\n'))
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs words some messages over several lines; the CLI promises one.
      throw new ConfigurationError(redact(error?.message ?? message).replace(/\s*\n\s*/g, ' ').trim());
    });
  try {
    await parser.parseAsync();
  } catch (error) {
    process.stderr.write(`archon-sync: ${redact(error instanceof Error ? error.message : String(error))} (see archon-sync --help)\n`);
    return exitCodeFor(error);
  }
  return exitCode;
}

// Leave the process to exit by itself (flushes stdout) unless something keeps it alive.
const code = await main(hideBin(process.argv));
process.exitCode = code;
// Connections are closed by now; a stuck socket must not keep cron waiting.
setTimeout(() => process.exit(code), 2000).unref();
