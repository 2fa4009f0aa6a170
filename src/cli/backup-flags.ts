// The backup flags: where backups go ($XDG_STATE_HOME first, as the XDG spec says) and sizes written the way people write them.

import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ConfigurationError } from '../index.js';

/** $XDG_STATE_HOME/archon-sync/backups, else ~/.local/state/archon-sync/backups (a relative XDG_STATE_HOME is ignored, as the spec says). */
export function backupDirFromEnv(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(home, '.local', 'state');
  return join(state, 'archon-sync', 'backups');
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** `500MB`, `2GB`, `1.5 GiB`, `4096`: bytes, with units of 1024 as PostgreSQL counts them. */
export function parseSize(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) throw new ConfigurationError(`${flag} must be a size such as 500MB or 2GB (got "${text}")`);
  return Math.round(Number(match[1]) * unit);
}
