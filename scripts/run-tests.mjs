// Runs every compiled *.test.js under dist/test with node's test runner (explicit files, so support modules are not run as tests).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
