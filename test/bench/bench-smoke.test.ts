// The benchmark runs end to end at a small scale and every copy it times is verified equal to the source.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

test('npm run bench -- --scale 0.1 completes and verifies every run, of every kind of tool', () => {
  const out = mkdtempSync(join(tmpdir(), 'archon-sync-bench-'));
  try {
    const result = spawnSync(process.execPath, [resolve('dist/bench/bench.js'), '--scale', '0.1', '--runs', '1', '--out', out,
      '--tools', 'archon-sync,baseline,pg_dump,archon-sync-quiet,archon-sync-checksum,container-target'], {
      encoding: 'utf8', timeout: 600_000,
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(file, 'no results file');
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as { results: { tool: string; verified: boolean }[] };
    assert.deepEqual(report.results.map((r) => r.tool).sort(), ['archon-sync', 'archon-sync-checksum', 'archon-sync-quiet', 'baseline', 'container-target', 'pg_dump']);
    assert.ok(report.results.every((r) => r.verified));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
