// Tests never write into the real home: HOME and XDG_STATE_HOME point at a throwaway directory (backups go there).
// scripts/run-tests.mjs does this for the whole run; a test file started some other way gets its own here.

import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

if (!process.env.ARCHON_SYNC_TEST_HOME) {
  const home = mkdtempSync(join(tmpdir(), 'archon-sync-home-'));
  const realHome = homedir();
  // npm (the package tests) keeps reading the real configuration and cache.
  process.env.NPM_CONFIG_USERCONFIG ??= join(realHome, '.npmrc');
  process.env.NPM_CONFIG_CACHE ??= join(realHome, '.npm');
  process.env.HOME = home;
  process.env.XDG_STATE_HOME = join(home, '.local', 'state');
  process.env.ARCHON_SYNC_TEST_HOME = home;
  process.on('exit', () => rmSync(home, { recursive: true, force: true }));
}

/** The home directory tests run with. */
export const TEST_HOME: string = process.env.ARCHON_SYNC_TEST_HOME ?? '';
