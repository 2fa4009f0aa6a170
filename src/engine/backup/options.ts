// The backup options of sync() and plan() (options.ts applies their defaults and checks them with the others').

import { homedir } from 'node:os';
import { join } from 'node:path';

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
