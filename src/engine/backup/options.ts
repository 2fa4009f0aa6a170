// The backup options of sync() and plan(): defaults applied and values checked once, in one place.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigurationError } from '../../errors.js';
import { DEFAULTS } from '../defaults.js';

/**
 * Where and how much of a run's old rows to keep on this machine, so undo() can put them back. The old versions
 * of the rows a run deletes or overwrites (every row of a table it copies in full) are streamed from the target
 * into files here before the run writes anything, and flushed before its COMMIT.
 */
export interface BackupOptions {
  /** Directory with one folder per target database; default ~/.local/state/archon-sync/backups (os.homedir()). */
  dir?: string | undefined;
  /** A run whose old rows would take more than this (estimated) cannot keep them; default 1 GiB. */
  limitBytes?: number | undefined;
  /** Backups kept per target database, newest first; default 10. */
  keep?: number | undefined;
  /**
   * When a run cannot keep its old rows (over the limit, too little free space): `warn` (default) goes on without
   * them, with a warning and `result.backup` saying why; `refuse` fails before writing anything (ValidationError),
   * as a caller with no one to ask should.
   */
  ifCannotKeep?: 'warn' | 'refuse' | undefined;
}

export type CompiledBackup =
  | { enabled: false }
  | { enabled: true; dir: string; limitBytes: number; keep: number; ifCannotKeep: 'warn' | 'refuse' };

/** ~/.local/state/archon-sync/backups: the library's default (the CLI honours $XDG_STATE_HOME first). */
export function defaultBackupDir(home: string = homedir()): string {
  return join(home, '.local', 'state', 'archon-sync', 'backups');
}

export function compileBackupOptions(option: BackupOptions | false | undefined): CompiledBackup {
  if (option === false) return { enabled: false };
  const limitBytes = option?.limitBytes ?? DEFAULTS.backupLimitBytes;
  const keep = option?.keep ?? DEFAULTS.keepBackups;
  if (!Number.isFinite(limitBytes) || limitBytes < 0) throw new ConfigurationError(`backup.limitBytes must be a size in bytes (got ${String(limitBytes)})`, { option: 'backup.limitBytes' });
  if (!Number.isInteger(keep) || keep < 1) throw new ConfigurationError(`backup.keep must be a whole number of runs, 1 or more (got ${String(keep)})`, { option: 'backup.keep' });
  if (option?.dir !== undefined && option.dir.trim() === '') throw new ConfigurationError('backup.dir is empty; name a directory', { option: 'backup.dir' });
  return {
    enabled: true,
    dir: resolve(option?.dir ?? defaultBackupDir()),
    limitBytes,
    keep,
    ifCannotKeep: option?.ifCannotKeep ?? 'warn',
  };
}
