// Runs every compiled *.test.js under dist/test with node's test runner (explicit files, so support modules are not run as tests).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

// A test that hangs must not hang CI. Node 20's runner applies --test-timeout to each test file as a whole, so the
// limit sits above the slowest file: faults/mid-copy took 7.3 min on 2 cores under a load average of 10 (2.5 min
// when idle). When it fires, scripts/test-timeout-reporter.mjs names the test that was running, on stderr.
const FILE_TIMEOUT_MS = 12 * 60_000;

function findTests(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return findTests(path);
    return path.endsWith('.test.js') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const files = findTests('dist/test').filter((file) => only.length === 0 || only.some((pattern) => file.includes(pattern))).sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.ARCHON_SYNC_TEST_CONCURRENCY ?? '2';
const timeout = process.env.ARCHON_SYNC_TEST_TIMEOUT_MS ?? String(FILE_TIMEOUT_MS);
// Nothing a test runs may write into the real home (backups default to ~/.local/state): a throwaway one, while npm
// keeps its real configuration and cache (test/support/state-home.ts does the same for a file run on its own).
const home = mkdtempSync(join(tmpdir(), 'archon-sync-home-'));
const env = {
  ...process.env,
  NPM_CONFIG_USERCONFIG: process.env.NPM_CONFIG_USERCONFIG ?? join(homedir(), '.npmrc'),
  NPM_CONFIG_CACHE: process.env.NPM_CONFIG_CACHE ?? join(homedir(), '.npm'),
  HOME: home,
  XDG_STATE_HOME: join(home, '.local', 'state'),
  ARCHON_SYNC_TEST_HOME: home,
};
const result = spawnSync(process.execPath, [
  '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/test-timeout-reporter.mjs', '--test-reporter-destination=stderr',
  ...files,
], { stdio: 'inherit', env });
rmSync(home, { recursive: true, force: true });
process.exit(result.status ?? 1);
