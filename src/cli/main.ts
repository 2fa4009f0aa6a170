#!/usr/bin/env -S node --
// The archon-sync command: yargs commands over the library (sync by default, history, init-history).
// The shebang ends node's own options with `--`: Node 20 otherwise reads our --env-file as its own flag.

import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  ARCHON_TABLES, ConfigurationError, DEFAULTS, describeEndpoint, history, initHistory, newSyncId, plan, redact, sync, verify,
  type PreviewedPlan, type SyncOptions, type Wording,
} from '../index.js';
import { DIRECTIONS, loadEndpoints, resolveDirection, type Direction, type Endpoints } from './config.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { askToConfirm } from './prompt.js';
import { errorLine, type Renderer } from './renderer.js';
import { abortOnSignals } from './signals.js';
import { cliWording } from './wording.js';
import { backupDirFromEnv, parseSize } from './backup-flags.js';
import { destructiveLine } from './safety-lines.js';
import { runUndo } from './undo-command.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface CommonArgs {
  'env-file': string;
  'log-format': 'pretty' | 'json';
  json: boolean;
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
  'stall-timeout': number;
  'commit-timeout': number;
  'triggered-by': string;
  'maintenance-work-mem': string;
  'parallel-maintenance-workers': number;
  history: boolean;
  verify: 'count' | 'checksum';
  sample: number;
  mode: 'auto' | 'full' | 'incremental';
  backup: boolean;
  'backup-dir': string;
  'backup-limit': string;
  'keep-backups': number;
  'max-delete': number;
  'target-changes': 'ask' | 'refuse' | 'overwrite' | undefined;
}

const stdinIsTty = process.stdin.isTTY === true;

/**
 * The crontab line --help and the README show: the JSON log gets stdout alone, so it stays JSON; the one-line
 * error on stderr goes to a file of its own, which the mail sends when the run fails.
 */
const CRON_EXAMPLE = '15 3 * * * cd /srv/archon && archon-sync --direction=local-to-remote --skip-confirm --json >> /var/log/archon-sync.log 2> /var/log/archon-sync.err || mail -s "archon-sync failed" ops@example.com < /var/log/archon-sync.err';
const debug = process.env.DEBUG !== undefined && process.env.DEBUG !== '';

/** `--json` is `--log-format=json`, on every command. */
function jsonOutput(args: CommonArgs): boolean {
  return args.json || args['log-format'] === 'json';
}

/** The renderer the output wants; each loads its own libraries only when chosen (cron's run starts sooner). */
async function makeRenderer(args: CommonArgs, wording: Wording, holdWarningsForPlan = false): Promise<Renderer> {
  if (jsonOutput(args)) return (await import('./json-renderer.js')).jsonRenderer(undefined, undefined, wording);
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return (await import('./pretty-renderer.js')).prettyRenderer({ out: process.stdout, err: process.stderr, color, quiet: args.quiet, debug, wording, holdWarningsForPlan });
}

function endpointsFrom(args: CommonArgs): Endpoints {
  return loadEndpoints(process.env, args['env-file'], process.argv.some((a) => a.startsWith('--env-file')));
}

/**
 * Every command the same way: a renderer, the work, one stderr line on failure (whatever the log format, so a
 * person or cron's mail sees it; the JSON log on stdout stays JSON) and the exit code that error maps to.
 */
async function runCommand(args: CommonArgs, options: { wording?: Wording; holdWarningsForPlan?: boolean }, work: (renderer: Renderer, wording: Wording) => Promise<number>): Promise<number> {
  const wording = options.wording ?? cliWording();
  const renderer = await makeRenderer(args, wording, options.holdWarningsForPlan);
  try {
    return await work(renderer, wording);
  } catch (error) {
    renderer.error(error);
    if (jsonOutput(args)) process.stderr.write(`archon-sync: ${errorLine(error, wording)}\n`);
    return exitCodeFor(error);
  } finally {
    renderer.close();
  }
}

/** Runs `work` with an AbortSignal that SIGINT/SIGTERM abort; a second signal, or a stuck cancel, exits at once. */
async function withSignals<T>(renderer: Renderer, message: (signal: NodeJS.Signals) => string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = abortOnSignals(controller, (signal) => renderer.info(message(signal)));
  try {
    return await work(controller.signal);
  } finally {
    stop();
  }
}

function selectTables(args: { tables: string[] | undefined; exclude: string[] | undefined }): string[] {
  const include = args.tables?.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  // `--tables ''` (an empty variable in a script) must not widen into all 17 tables.
  if (args.tables !== undefined && include?.length === 0) throw new ConfigurationError('--tables names no table (it was empty); name the tables to copy, or leave --tables out to copy the 17 Archon tables');
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

/** What a signal's first arrival says: Ctrl-C is how a person sends SIGINT; SIGTERM comes from a supervisor. */
function cancelling(signal: NodeJS.Signals): string {
  return `received ${signal}: cancelling, the target is being rolled back (${signal === 'SIGINT' ? 'press Ctrl-C again' : 'send SIGTERM again'} to exit at once)`;
}

/** The question under the plan: what answering yes does to the target, its destructive totals and the target's own edits first. */
function question(planned: PreviewedPlan, targetDb: string, targetLabel: string): string {
  const { totals, targetEdits } = planned.preview;
  const fmt = new Intl.NumberFormat('en-US');
  const where = `${targetDb} ${targetLabel}`;
  const destroys = destructiveLine(planned.preview, where);
  const edits = targetEdits.inserted + targetEdits.updated + targetEdits.deleted;
  const overwritten = edits > 0
    ? ` It also overwrites ${fmt.format(edits)} row${edits === 1 ? '' : 's'} the ${targetDb} database wrote itself since the last sync (${targetEdits.tables.map((t) => t.table).join(', ')}; listed above).`
    : '';
  return `This makes ${totals.tables} tables in the ${where} database equal to the source: ${fmt.format(totals.inserts)} rows inserted, `
    + `${fmt.format(totals.updates)} updated, ${fmt.format(totals.deletes)} deleted (${totals.fullTables} tables emptied and copied in full).`
    + `${destroys ? ` ${destroys.charAt(0).toUpperCase()}${destroys.slice(1)}.` : ''}${overwritten} Type "yes" to continue: `;
}

/** --max-delete is a percent of each table's target rows (0–100); the library takes a share. */
function maxDeleteShare(percent: number): number {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new ConfigurationError(`--max-delete must be a percent from 0 to 100 (got ${String(percent)})`);
  return percent / 100;
}

async function runSync(args: SyncArgs): Promise<number> {
  const { source, target, sourceDb, targetDb } = resolveDirection(args.direction, endpointsFrom(args));
  return runCommand(args, { wording: cliWording(targetDb), holdWarningsForPlan: true }, async (renderer, wording) => {
    const tables = selectTables(args);
    const sourceLabel = describeEndpoint(source, 'source').label;
    const targetLabel = describeEndpoint(target, 'target').label;
    if (!args['dry-run'] && !args['skip-confirm'] && !stdinIsTty) {
      throw new ConfigurationError('refusing to overwrite the target without confirmation: no terminal to ask on; add --skip-confirm (e.g. in cron)');
    }
    const header = { direction: args.direction, source: `${sourceDb} ${sourceLabel}`, target: `${targetDb} ${targetLabel}` };
    // Where nobody answers (cron, --skip-confirm) nobody can choose to lose the target's own edits or the way
    // back: such a run refuses instead. On a terminal the plan shows both, and the question decides.
    const unattended = args['skip-confirm'] || !stdinIsTty;
    if (unattended && args['target-changes'] === 'ask' && !args['dry-run']) {
      throw new ConfigurationError('--target-changes=ask needs someone to ask: there is no terminal or --skip-confirm is given; use refuse or overwrite');
    }
    const backup = args.backup ? {
      dir: args['backup-dir'], limitBytes: parseSize(args['backup-limit'], '--backup-limit'), keep: args['keep-backups'],
      ifCannotKeep: unattended ? 'refuse' as const : 'warn' as const,
    } : false as const;
    return withSignals(renderer, cancelling, async (signal) => {
      const options: SyncOptions = {
        source, target, tables, signal, wording,
        onEvent: (event) => renderer.event(event),
        connectTimeoutMs: args['connect-timeout'] * 1000,
        lockTimeoutMs: args['lock-timeout'] * 1000,
        stallTimeoutMs: args['stall-timeout'] * 1000,
        commitTimeoutMs: args['commit-timeout'] * 1000,
        maintenanceWorkMem: args['maintenance-work-mem'],
        maxParallelMaintenanceWorkers: args['parallel-maintenance-workers'],
        history: args.history ? { syncId: newSyncId(), direction: args.direction, triggeredBy: args['triggered-by'], sourceDb, targetDb } : false,
        verify: args.verify,
        sampleLimit: args.sample,
        mode: args.mode,
        backup,
        maxDeleteShare: maxDeleteShare(args['max-delete']),
        targetChanges: args['target-changes'] ?? (unattended ? 'refuse' : 'ask'),
      };
      if (args['dry-run']) {
        // The run's own steps up to its first write, then a rollback: what a sync would do now, exactly.
        const { verify: _verify, sampleLimit: _sample, mode, ...planOptions } = options;
        renderer.plan(header, await plan({ ...planOptions, preview: mode }), true);
        return EXIT.ok;
      }
      const result = await sync({
        ...options,
        // Called once, between the comparison and the first write: the plan is read once, by the run itself.
        confirm: async (planned, asking) => {
          renderer.plan(header, planned, false);
          if (args['skip-confirm']) return true;
          // The run's signal: a server lost (or Ctrl-C) while the question waits ends the question too.
          return askToConfirm(question(planned, targetDb, targetLabel), process.stdin, process.stderr, asking.signal);
        },
      });
      renderer.summary(result);
      return EXIT.ok;
    });
  });
}

interface VerifyArgs extends CommonArgs {
  direction: Direction;
  tables: string[] | undefined;
  exclude: string[] | undefined;
  sample: number;
  'lock-timeout': number;
  'stall-timeout': number;
}

async function runVerify(args: VerifyArgs): Promise<number> {
  return runCommand(args, {}, async (renderer) => {
    const { source, target, sourceDb, targetDb } = resolveDirection(args.direction, endpointsFrom(args));
    const header = {
      direction: args.direction,
      source: `${sourceDb} ${describeEndpoint(source, 'source').label}`,
      target: `${targetDb} ${describeEndpoint(target, 'target').label}`,
    };
    return withSignals(renderer, (signal) => `received ${signal}: stopping`, async (signal) => {
      const result = await verify({
        source, target, tables: selectTables(args), signal, sampleLimit: args.sample,
        connectTimeoutMs: args['connect-timeout'] * 1000, lockTimeoutMs: args['lock-timeout'] * 1000, stallTimeoutMs: args['stall-timeout'] * 1000,
        onEvent: (event) => renderer.event(event),
      });
      renderer.verification(header, result);
      return result.equal ? EXIT.ok : EXIT.verification;
    });
  });
}

interface HistoryArgs extends CommonArgs {
  direction: Direction | undefined;
  database: 'local' | 'remote' | undefined;
  limit: number;
  'backup-dir': string;
}

function historyDatabase(args: { direction: Direction | undefined; database: 'local' | 'remote' | undefined }): 'local' | 'remote' {
  if (args.database) return args.database;
  if (args.direction) return args.direction === 'local-to-remote' ? 'remote' : 'local';
  return 'remote';
}

async function runHistory(args: HistoryArgs): Promise<number> {
  const database = historyDatabase(args);
  return runCommand(args, { wording: cliWording(database) }, async (renderer) => {
    const rows = await history({
      database: endpointsFrom(args)[database], limit: args.limit, direction: args.direction, connectTimeoutMs: args['connect-timeout'] * 1000, backupDir: args['backup-dir'],
    });
    // Machine output is the rows themselves, one JSON array, as --json means on every command: stdout is JSON.
    if (jsonOutput(args)) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else renderer.history(rows);
    return EXIT.ok;
  });
}

async function runInitHistory(args: HistoryArgs): Promise<number> {
  const database = historyDatabase(args);
  return runCommand(args, { wording: cliWording(database) }, async (renderer) => {
    const uri = endpointsFrom(args)[database];
    await initHistory({ database: uri, connectTimeoutMs: args['connect-timeout'] * 1000 });
    renderer.info(`archon_sync_history is ready in the ${database} database ${describeEndpoint(uri).label}`);
    return EXIT.ok;
  });
}

/** --backup-dir, for every command that reads or writes backups. */
const BACKUP_DIR_OPTION = {
  type: 'string', default: backupDirFromEnv(process.env), defaultDescription: '$XDG_STATE_HOME/archon-sync/backups, else ~/.local/state/archon-sync/backups',
  describe: 'where the old rows of each run are kept, one folder per target database',
} as const;

function commonOptions<T>(y: Argv<T>) {
  return y
    .option('env-file', { type: 'string', default: '.env', describe: 'file with LOCAL_DATABASE_URI / REMOTE_DATABASE_URI (the environment wins)' })
    .option('log-format', { choices: ['pretty', 'json'] as const, default: process.stdout.isTTY ? 'pretty' as const : 'json' as const, defaultDescription: 'pretty on a terminal, json otherwise', describe: 'pretty for people, JSON lines (pino) for cron and log collectors' })
    .option('json', { type: 'boolean', default: false, describe: 'JSON on stdout and nothing else there: the same as --log-format=json' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only errors' })
    .option('connect-timeout', { type: 'number', default: DEFAULTS.connectTimeoutMs / 1000, describe: 'seconds to wait for each connection (connect_timeout in a URI wins)' });
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const parser = yargs(argv)
    .scriptName('archon-sync')
    .usage('$0 --direction=local-to-remote|remote-to-local [options]\n\nCopies the 17 Archon tables from one database to the other in one transaction: the target ends exactly like the source, or exactly as it was.')
    .command('$0', 'sync the tables (the default command)', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, demandOption: '(use --direction=local-to-remote or --direction=remote-to-local)', describe: 'which way to copy' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'show the plan and exit; writes nothing anywhere' })
      .option('mode', { choices: ['auto', 'full', 'incremental'] as const, default: 'auto' as const, describe: 'full: empty and reload every table; incremental: move only the rows that differ; auto: per table, whichever costs less' })
      .option('skip-confirm', { type: 'boolean', default: false, describe: 'do not ask before overwriting (required without a terminal)' })
      .option('tables', { type: 'string', array: true, describe: 'copy only these tables (comma-separated or repeated)', defaultDescription: 'the 17 Archon tables' })
      .option('exclude', { type: 'string', array: true, describe: 'leave these tables out' })
      .option('lock-timeout', { type: 'number', default: DEFAULTS.lockTimeoutMs / 1000, describe: 'seconds to wait for each table lock' })
      .option('stall-timeout', { type: 'number', default: DEFAULTS.stallTimeoutMs / 1000, describe: 'seconds without data moving (or a server not answering) before the run gives up; index builds may take longer' })
      .option('commit-timeout', { type: 'number', default: DEFAULTS.commitTimeoutMs / 1000, describe: 'seconds COMMIT may wait (for a synchronous standby) before it is cancelled: committed on the target, unconfirmed (exit 6); 0 waits forever' })
      .option('triggered-by', { type: 'string', default: stdinIsTty ? 'CLI' : 'cron', defaultDescription: 'CLI on a terminal, cron otherwise', describe: 'recorded in archon_sync_history' })
      .option('maintenance-work-mem', { type: 'string', default: DEFAULTS.maintenanceWorkMem, describe: 'memory for rebuilding indexes (SET LOCAL on the target)' })
      .option('parallel-maintenance-workers', { type: 'number', default: DEFAULTS.maxParallelMaintenanceWorkers, describe: 'parallel workers for index builds (SET LOCAL on the target)' })
      .option('history', { type: 'boolean', default: true, describe: 'record the run in the target\'s archon_sync_history (--no-history: do not)' })
      .option('verify', { choices: ['count', 'checksum'] as const, default: 'count' as const, describe: 'before commit, compare row counts, or every row\'s checksum too (slower; names differing keys)' })
      .option('sample', { type: 'number', default: DEFAULTS.sampleLimit, describe: 'example keys to report per kind of difference' })
      .option('max-delete', { type: 'number', default: DEFAULTS.maxDeleteShare * 100, describe: 'refuse a run that would delete more than this percent of any table\'s target rows (or empty one); 100: never refuse' })
      .option('target-changes', { choices: ['ask', 'refuse', 'overwrite'] as const, defaultDescription: 'ask on a terminal, refuse without one or with --skip-confirm', describe: 'rows the target itself wrote since the last sync: ask before overwriting them, refuse, or overwrite' })
      .option('backup', { type: 'boolean', default: true, describe: 'keep the old rows the run deletes or overwrites on this machine, so `archon-sync undo` can put them back (--no-backup: do not)' })
      .option('backup-limit', { type: 'string', default: `${DEFAULTS.backupLimitBytes / 1024 ** 3}GB`, describe: 'a run whose old rows would take more cannot keep them: it refuses without a terminal, warns on one' })
      .option('keep-backups', { type: 'number', default: DEFAULTS.keepBackups, describe: 'backups kept per target database, newest first' })
      .option('backup-dir', BACKUP_DIR_OPTION),
    async (args) => { exitCode = await runSync(args); })
    .command('verify', 'compare the tables row by row between the two databases; writes nothing (exit 0 equal, 4 not)', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, demandOption: '(use --direction=local-to-remote or --direction=remote-to-local)', describe: 'which side is the source' })
      .option('tables', { type: 'string', array: true, describe: 'compare only these tables', defaultDescription: 'the 17 Archon tables' })
      .option('exclude', { type: 'string', array: true, describe: 'leave these tables out' })
      .option('sample', { type: 'number', default: DEFAULTS.sampleLimit, describe: 'example keys to report per kind of difference' })
      .option('lock-timeout', { type: 'number', default: DEFAULTS.lockTimeoutMs / 1000, describe: 'seconds to wait for a table lock while reading' })
      .option('stall-timeout', { type: 'number', default: DEFAULTS.stallTimeoutMs / 1000, describe: 'seconds without rows arriving before the comparison gives up' }),
    async (args) => { exitCode = await runVerify(args); })
    .command('history', 'show recent runs from archon_sync_history', (y) => commonOptions(y)
      .option('direction', { choices: DIRECTIONS, describe: 'only runs in this direction (and read them from its target)' })
      .option('database', { choices: ['local', 'remote'] as const, describe: 'which database to read', defaultDescription: 'the direction\'s target, else remote' })
      .option('limit', { type: 'number', default: 20, describe: 'how many runs' })
      .option('backup-dir', BACKUP_DIR_OPTION),
    async (args) => { exitCode = await runHistory(args); })
    .command('undo <sync-id>', 'put the target\'s tables back exactly as they were before run <sync-id>, from the backup it kept on this machine', (y) => commonOptions(y)
      .positional('sync-id', { type: 'string', demandOption: true, describe: 'the run to undo (see `archon-sync history`)' })
      .option('database', { choices: ['local', 'remote'] as const, describe: 'the database the run wrote to', defaultDescription: 'the one its backup names' })
      .option('force', { type: 'boolean', default: false, describe: 'undo although the target changed since the run (those changes are lost)' })
      .option('skip-confirm', { type: 'boolean', default: false, describe: 'do not ask (required without a terminal)' })
      .option('backup-dir', BACKUP_DIR_OPTION)
      .option('history', { type: 'boolean', default: true, describe: 'record the undo in the target\'s archon_sync_history (--no-history: do not)' })
      .option('triggered-by', { type: 'string', default: stdinIsTty ? 'CLI' : 'cron', defaultDescription: 'CLI on a terminal, cron otherwise', describe: 'recorded in archon_sync_history' })
      .option('lock-timeout', { type: 'number', default: DEFAULTS.lockTimeoutMs / 1000, describe: 'seconds to wait for each table lock' })
      .option('maintenance-work-mem', { type: 'string', default: DEFAULTS.maintenanceWorkMem, describe: 'memory for rebuilding indexes (SET LOCAL on the target)' })
      .option('parallel-maintenance-workers', { type: 'number', default: DEFAULTS.maxParallelMaintenanceWorkers, describe: 'parallel workers for index builds (SET LOCAL on the target)' }),
    async (args) => {
      exitCode = await runCommand(args, { wording: cliWording(args.database) }, (renderer) => runUndo(args, renderer, {
        endpoints: () => endpointsFrom(args), stdinIsTty, withSignals: (message, work) => withSignals(renderer, message, work),
      }));
    })
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
      'Exit codes: 0 completed · 1 bad arguments or configuration · 2 cannot connect · 3 validation or copy failed (target rolled back), or refused before any write (--max-delete, the target\'s own edits, a backup that cannot be kept, an undo over changes) · 4 verification mismatch (target rolled back) · 5 cancelled · 6 committed on the target but not confirmed by its synchronous standby (or the commit\'s outcome is unknown)',
      '',
      'Examples:',
      '  archon-sync --direction=remote-to-local                 # by hand: shows the plan, asks for "yes"',
      '  archon-sync undo sync_20261127_031500                   # puts the target back as it was before that run',
      `  ${CRON_EXAMPLE}`,
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
    process.stderr.write(`archon-sync: ${errorLine(error, cliWording())} (see archon-sync --help)\n`);
    return exitCodeFor(error);
  }
  return exitCode;
}

// Output closed under us (`| head`, a log collector that died, a closed terminal) must not decide how a sync
// ends: a failed write to a closed pipe is dropped, the run goes on, and its outcome lands in the history row.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

// Leave the process to exit by itself (flushes stdout) unless something keeps it alive.
const code = await main(hideBin(process.argv));
process.exitCode = code;
// Connections are closed by now; a stuck socket must not keep cron waiting.
setTimeout(() => process.exit(code), 2000).unref();
