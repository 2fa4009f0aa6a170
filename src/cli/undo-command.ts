// `archon-sync undo <sync-id>`: finds the run's backup here, asks, and puts the target's tables back as they were.

import { CancelledError, ConfigurationError, describeEndpoint, findBackups, undo, type UndoResult } from '../index.js';
import type { Endpoints } from './config.js';
import { EXIT } from './exit-codes.js';
import { askToConfirm } from './prompt.js';
import type { Renderer } from './renderer.js';

export interface UndoArgs {
  'sync-id': string;
  database: 'local' | 'remote' | undefined;
  force: boolean;
  'skip-confirm': boolean;
  'backup-dir': string;
  history: boolean;
  'triggered-by': string;
  'lock-timeout': number;
  'connect-timeout': number;
  'maintenance-work-mem': string;
  'parallel-maintenance-workers': number;
}

/** What main.ts lends every command: the endpoints, whether stdin is a terminal, and cancellation by signals. */
export interface CommandContext {
  endpoints: () => Endpoints;
  stdinIsTty: boolean;
  withSignals: <T>(message: (signal: NodeJS.Signals) => string, work: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

/** Which database the run wrote to: --database, else what its backup recorded, else the endpoint its backup names. */
async function targetDatabase(args: UndoArgs, endpoints: Endpoints): Promise<'local' | 'remote'> {
  if (args.database) return args.database;
  const found = await findBackups({ syncId: args['sync-id'], backupDir: args['backup-dir'] });
  const named = [...new Set(found.map((b) => b.targetDb).filter((db): db is 'local' | 'remote' => db === 'local' || db === 'remote'))];
  if (named.length === 1 && named[0]) return named[0];
  // A run without a history row did not record which side it wrote to; its backup still names host, port and database.
  const byLabel = (['local', 'remote'] as const).filter((db) => found.some((b) => b.target === describeEndpoint(endpoints[db]).label));
  if (byLabel.length === 1 && byLabel[0]) return byLabel[0];
  if (found.length === 0) {
    throw new ConfigurationError(`no backup of ${args['sync-id']} in ${args['backup-dir']}; name the database it wrote to with --database local|remote to be told why, or check --backup-dir`);
  }
  throw new ConfigurationError(`the backup of ${args['sync-id']} does not say which database it is of; name it with --database local|remote`);
}

export async function runUndo(args: UndoArgs, renderer: Renderer, context: CommandContext): Promise<number> {
  const endpoints = context.endpoints();
  const database = await targetDatabase(args, endpoints);
  const target = endpoints[database];
  const label = describeEndpoint(target, 'target').label;
  if (!args['skip-confirm'] && !context.stdinIsTty) {
    throw new ConfigurationError('refusing to undo without confirmation: no terminal to ask on; add --skip-confirm');
  }
  if (!args['skip-confirm']) {
    const ok = await askToConfirm(
      `This puts the tables of the ${database} database ${label} back as they were before ${args['sync-id']}: what that run wrote is deleted${args.force ? ', and so is anything written since' : ''}. Type "yes" to continue: `,
      process.stdin, process.stderr,
    );
    if (!ok) throw new CancelledError('not confirmed; nothing was changed', { failure: 'not-confirmed' });
  }
  return context.withSignals((signal) => `received ${signal}: cancelling, the target is being rolled back (press Ctrl-C again to exit at once)`, async (signal) => {
    const result = await undo({
      target, syncId: args['sync-id'], backupDir: args['backup-dir'], force: args.force, signal,
      history: args.history ? { triggeredBy: args['triggered-by'] } : false,
      connectTimeoutMs: args['connect-timeout'] * 1000, lockTimeoutMs: args['lock-timeout'] * 1000,
      maintenanceWorkMem: args['maintenance-work-mem'], maxParallelMaintenanceWorkers: args['parallel-maintenance-workers'],
      onEvent: (event) => renderer.event(event),
    });
    renderer.undone(result);
    return EXIT.ok;
  });
}

/** One line: what an undo did. */
export function undoneLine(result: UndoResult): string {
  const rows = result.tables.reduce((sum, t) => sum + t.restored, 0);
  return `undone ${result.undid}${result.syncId ? ` (recorded as ${result.syncId})` : ''}: ${result.tables.length} table${result.tables.length === 1 ? '' : 's'} put back as they were, `
    + `${rows} old rows restored, ${result.sequences} sequence${result.sequences === 1 ? '' : 's'} reset, in ${result.seconds.toFixed(1)} s`
    + `${result.overridden.length > 0 ? `; forced over ${result.overridden.length} change${result.overridden.length === 1 ? '' : 's'} since` : ''}`;
}
