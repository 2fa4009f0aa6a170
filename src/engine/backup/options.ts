// The backup options of sync() and plan() (options.ts applies their defaults and checks them with the others').

import { homedir } from 'node:os';
import { join } from 'node:path';

export type { BackupOptions } from '../../types.js';

export type CompiledBackup =
  | { enabled: false }
  | { enabled: true; dir: string; limitBytes: number; keep: number; ifCannotKeep: 'warn' | 'refuse' };

/** ~/.local/state/archon-sync/backups: the library's default (the CLI honours $XDG_STATE_HOME first). */
export function defaultBackupDir(home: string = homedir()): string {
  return join(home, '.local', 'state', 'archon-sync', 'backups');
}
