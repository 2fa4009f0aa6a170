// The benchmark runs end to end at a small scale, on this machine, through the link and in its incremental scenarios, and every copy it times is verified equal to the source.

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

test('npm run bench -- --link puts every tool but archon-sync-direct through the link and counts what each sent the target', () => {
  const out = mkdtempSync(join(tmpdir(), 'archon-sync-bench-'));
  try {
    // A short, fast link: this checks the wiring (proxy, counters, log), not the timings.
    const result = spawnSync(process.execPath, [resolve('dist/bench/bench.js'), '--link', '--link-delay-ms', '2', '--link-mbit', '1000',
      '--scale', '0.01', '--runs', '1', '--out', out], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const file = readdirSync(out).find((f) => f.endsWith('-link.json'));
    assert.ok(file, `no -link results file in ${readdirSync(out).join(', ')}`);
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as {
      link: { delayMs: number; mbitPerSecond: number; boundSeconds?: number; archonSyncOverPgDump?: number };
      results: { tool: string; verified: boolean; link?: { throughLink: boolean; bytesToTarget: number; statements: Record<string, number> } }[];
    };
    assert.deepEqual([report.link.delayMs, report.link.mbitPerSecond], [2, 1000]);
    assert.ok((report.link.boundSeconds ?? 0) > 0 && (report.link.archonSyncOverPgDump ?? 0) > 0, JSON.stringify(report.link));
    assert.deepEqual(report.results.map((r) => r.tool).sort(), ['archon-sync', 'archon-sync-direct', 'baseline', 'pg_dump']);
    const byTool = Object.fromEntries(report.results.map((r) => [r.tool, r]));
    for (const [tool, application] of [['archon-sync', 'archon-sync'], ['archon-sync-direct', 'archon-sync'], ['baseline', 'psql'], ['pg_dump', 'pg_restore']] as const) {
      const run = byTool[tool];
      assert.ok(run?.verified, `${tool} not verified`);
      assert.equal(run.link?.throughLink, tool !== 'archon-sync-direct', `${tool} through the link?`);
      assert.ok((run.link?.statements[application] ?? 0) > 0, `${tool}: no ${application} statements counted`);
      if (tool === 'archon-sync-direct') assert.equal(run.link?.bytesToTarget, 0);
      else assert.ok((run.link?.bytesToTarget ?? 0) > 1e6, `${tool}: ${run.link?.bytesToTarget} bytes through the link`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('npm run bench -- --incremental times every mode after each share of changes and verifies every copy', () => {
  const out = mkdtempSync(join(tmpdir(), 'archon-sync-bench-'));
  try {
    const result = spawnSync(process.execPath, [resolve('dist/bench/bench.js'), '--incremental', '--scale', '0.01', '--shares', '0,0.1', '--out', out],
      { encoding: 'utf8', timeout: 300_000 });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const file = readdirSync(out).find((f) => f.endsWith('-incremental.json'));
    assert.ok(file, `no -incremental results file in ${readdirSync(out).join(', ')}`);
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as {
      runs: { share: number; mode: string; verified: boolean; sourceBytes: number; walBytes: number; comparedSince: string | null; tables: { mode: string; inserted: number; updated: number; deleted: number }[] }[];
    };
    assert.deepEqual(report.runs.map((r) => `${r.share} ${r.mode}`).sort(),
      ['0 auto', '0 full', '0 incremental', '0.1 auto', '0.1 full', '0.1 incremental']);
    assert.ok(report.runs.every((r) => r.verified && r.walBytes > 0 && r.sourceBytes > 0));
    const run = (share: number, mode: string) => report.runs.find((r) => r.share === share && r.mode === mode);
    // Nothing changed: no table reloaded, and far fewer bytes read from the source than a full copy reads; the
    // comparison went by a watermark (the source being put back from a template must not hide that path).
    assert.equal(run(0, 'incremental')?.tables.length, 0, JSON.stringify(run(0, 'incremental')?.tables));
    assert.match(run(0, 'incremental')?.comparedSince ?? '', /^sync_/);
    assert.match(run(0.1, 'auto')?.comparedSince ?? '', /^sync_/);
    assert.ok((run(0, 'incremental')?.sourceBytes ?? Infinity) < (run(0, 'full')?.sourceBytes ?? 0) / 2);
    // A tenth changed: incremental moved every kind of change and copied no table in full.
    const moved = run(0.1, 'incremental')?.tables ?? [];
    assert.ok(moved.length > 0 && moved.every((t) => t.mode === 'incremental'), JSON.stringify(moved));
    assert.ok(['inserted', 'updated', 'deleted'].every((kind) => moved.some((t) => t[kind as 'inserted'] > 0)), JSON.stringify(moved));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('npm run bench -- --link --incremental times the CLI through the link and counts every connection\'s statements on both servers', () => {
  const out = mkdtempSync(join(tmpdir(), 'archon-sync-bench-'));
  try {
    // A short, fast link and one mode, through it and around it: this checks the wiring (proxy, both logs, restored targets), not the timings.
    const result = spawnSync(process.execPath, [resolve('dist/bench/bench.js'), '--link', '--incremental', '--link-delay-ms', '2', '--link-mbit', '1000',
      '--scale', '0.01', '--shares', '0,0.1', '--modes', 'auto,auto-direct', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const file = readdirSync(out).find((f) => f.endsWith('-link-incremental.json'));
    assert.ok(file, `no -link-incremental results file in ${readdirSync(out).join(', ')}`);
    interface Side { totalStatements: number; connections: Record<string, number>; kinds: [string, number][] }
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as {
      link: { delayMs: number };
      runs: { share: number; mode: string; verified: boolean; tables: unknown[]; traffic: { target: Side & { bytesToTarget: number; linkConnections: number }; source: Side } }[];
    };
    assert.equal(report.link.delayMs, 2);
    assert.deepEqual(report.runs.map((r) => `${r.share} ${r.mode}`).sort(), ['0 auto', '0 auto-direct', '0.1 auto', '0.1 auto-direct']);
    for (const run of report.runs) {
      assert.ok(run.verified, `${run.share}: not verified`);
      const { target, source } = run.traffic;
      // The CLI's one run (its plan, decisions and writes) connects once to each server; every table's digests cross each side, in one COPY.
      for (const [side, traffic] of [['target', target], ['source', source]] as const) {
        assert.equal(traffic.connections['archon-sync'], 1, `${side}: ${JSON.stringify(traffic.connections)}`);
        const copies = traffic.kinds.filter(([kind]) => kind.startsWith('COPY')).reduce((n, [, count]) => n + count, 0);
        assert.ok(copies >= 1 && traffic.totalStatements > copies, `${side}: ${JSON.stringify(traffic.kinds)}`);
      }
      // Through the link: the run's own connection at least (its sidecar, best-effort, may add one).
      if (run.mode === 'auto') assert.ok(target.bytesToTarget > 0 && target.linkConnections >= 1, JSON.stringify(target));
      else assert.deepEqual([target.bytesToTarget, target.linkConnections], [0, 0]);
      // Each run started from the same restored target, so the unchanged source moved nothing and the changed one did.
      assert.equal(run.tables.length > 0, run.share > 0, JSON.stringify(run.tables));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
