// A whole sync as a person sees it: the built CLI on a pseudo-terminal, its live lines replayed frame by frame.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { jsonLines, runCli } from '../support/cli.js';
import { filledDatabase, ownerSql } from '../support/fixtures.js';
import { runCliInPty, type PtyResult } from '../support/pty.js';
import { testServers, type TestServers } from '../support/servers.js';

/** Big enough that the HNSW and trigram builds on archon_crawled_pages take seconds, so several readings land. */
const SCALE = Number(process.env.ARCHON_SYNC_LIVE_SCALE ?? 0.1);
const GARBAGE = /NaN|Infinity|null|undefined|LLs|NFs/;
const INDEX_PHASES = /starting|initializing|scanning table|sorting live tuples|loading tuples|performing k-means|assigning tuples|building index/;

let servers: TestServers;
let run: PtyResult;
let planRows: Map<string, number>;
let historyPercents: number[];
let env: Record<string, string>;

before(async () => {
  servers = await testServers();
  const [local, remote] = await Promise.all([
    filledDatabase(servers.source, 41, SCALE, 'local'),
    filledDatabase(servers.target, 42, 0.01, 'remote'),
  ]);
  env = { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) };
  const counts = await ownerSql(servers.source, local,
    ARCHON_TABLES.map((t) => `SELECT '${t}' AS name, count(*)::int AS n FROM ${t}`).join(' UNION ALL '));
  planRows = new Map(counts.map((r) => [String(r.name), Number(r.n)]));
  historyPercents = [];
  let running = true;
  // What cron dashboards read meanwhile: the history row's percent must be as truthful as the screen's.
  const watch = (async () => {
    while (running) {
      const rows = await servers.target.admin(remote, async (c) => (await c.query<{ percent_complete: number | null }>(
        `SELECT percent_complete FROM archon_sync_history WHERE status = 'running'`)).rows).catch(() => []);
      for (const r of rows) if (r.percent_complete !== null) historyPercents.push(r.percent_complete);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    run = await runCliInPty(['--direction=local-to-remote', '--skip-confirm', '--log-format=pretty'], { env });
  } finally {
    running = false;
    await watch;
  }
});
after(async () => { await servers?.close(); });

function overallPercents(frames: string[][]): number[] {
  return frames.flatMap((frame) => frame.flatMap((line) => {
    const match = /^overall\s.*?\s(\d+)%/.exec(line);
    return match ? [Number(match[1])] : [];
  }));
}

function stepLines(kind: string): string[] {
  return [...run.frames.flat(), ...run.screen].filter((line) => line.startsWith(`${kind} `));
}

const number = (text: string) => Number(text.replace(/,/g, ''));

describe('the live display of a whole sync on a terminal', () => {
  test('completes and prints the summary after the bars', () => {
    assert.equal(run.code, 0, run.screen.join('\n'));
    assert.ok(run.screen.some((l) => /^completed sync_\d{8}_\d{6}: .* rows copied in .*; row counts verified$/.test(l)), run.screen.join('\n'));
    assert.ok(run.frames.length >= 5, `only ${run.frames.length} frames`);
  });

  test('the overall percent never decreases, and the last frame says 100 % done', () => {
    const percents = overallPercents([...run.frames, run.screen]);
    assert.ok(percents.length >= 5, `only ${percents.length} overall lines`);
    for (let i = 1; i < percents.length; i++) {
      assert.ok(percents[i]! >= percents[i - 1]!, `overall went from ${percents[i - 1]} to ${percents[i]} (frame ${i})`);
    }
    assert.equal(percents.at(-1), 100);
    assert.ok(run.screen.some((l) => /^overall\s.*100% .*done$/.test(l)));
  });

  test('no frame and no line of output holds NaN, Infinity, null, undefined, LLs or NFs', () => {
    for (const [i, frame] of run.frames.entries()) {
      for (const line of frame) assert.doesNotMatch(line, GARBAGE, `frame ${i}: ${line}`);
    }
    for (const line of run.screen) assert.doesNotMatch(line, GARBAGE, line);
  });

  test('the copy line counts rows, with each table\'s total equal to the plan\'s row count', () => {
    const copies = stepLines('copy').flatMap((line) => {
      const match = /([\d,]+)\/([\d,]+) rows \| [\d,]+ rows\/s \| (\S+)$/.exec(line);
      return match ? [{ done: number(match[1]!), total: number(match[2]!), table: match[3]! }] : [];
    });
    assert.ok(copies.length >= 1, 'no copy line was drawn');
    for (const c of copies) {
      assert.equal(c.total, planRows.get(c.table), `${c.table}: total ${c.total}`);
      assert.ok(c.done <= c.total, `${c.table}: ${c.done} of ${c.total}`);
    }
  });

  test('an index line never claims rows', () => {
    const lines = stepLines('index');
    assert.ok(lines.length >= 1, 'no index line was drawn');
    for (const line of lines) assert.doesNotMatch(line, /\brows?\b/, line);
  });

  // Needs the engine to call tracker.indexStarted() and feed an IndexProgressMonitor's readings to indexProgress().
  test('an index line names the build\'s phase, and blocks or tuples while a big build runs', () => {
    const lines = stepLines('index');
    assert.ok(lines.some((l) => INDEX_PHASES.test(l)), `no phase in:\n${lines.slice(0, 10).join('\n')}`);
    assert.ok(lines.some((l) => /hnsw .*[\d,]+\/[\d,]+ blocks/.test(l)), 'the HNSW build never showed its blocks');
  });

  // Needs the engine to call tracker.setPlan(plan.tables, { verify }) with each table's sourceBytes.
  test('the percent weighs the index builds: the copy ends well short of 90 %, and an ETA is shown', () => {
    const copyFrames = run.frames.filter((f) => f.some((l) => l.startsWith('copy ') && l.includes('archon_crawled_pages')));
    const duringCopy = overallPercents(copyFrames);
    assert.ok(duringCopy.length >= 1);
    assert.ok(Math.max(...duringCopy) <= 80, `the copy of archon_crawled_pages already showed ${Math.max(...duringCopy)} %`);
    assert.ok(run.frames.flat().some((l) => /^overall .*ETA \d+(s|m \d\ds)$/.test(l)), 'no ETA was ever shown');
  });

  test('the history row\'s percent_complete never decreased while the run went on', () => {
    assert.ok(historyPercents.length >= 2, `only ${historyPercents.length} readings of the history row`);
    for (let i = 1; i < historyPercents.length; i++) assert.ok(historyPercents[i]! >= historyPercents[i - 1]!, `${historyPercents[i - 1]} → ${historyPercents[i]}`);
    assert.ok(historyPercents.every((p) => p >= 0 && p <= 100));
  });

  // Needs the same engine wiring as the index line: the JSON renderer logs what the tracker emits.
  test('the JSON lines for cron carry the same index progress: phase, blocks, tuples', async () => {
    // In full mode: the target already equals the source, and an auto run would rebuild nothing.
    const json = await runCli(['--direction=local-to-remote', '--skip-confirm', '--log-format=json', '--mode=full'], { env });
    assert.equal(json.code, 0, json.stderr);
    const lines = jsonLines(json.stdout);
    assert.ok(!/NaN|Infinity|null/.test(json.stdout.split('\n').filter((l) => l.includes('"progress"') || l.includes('index-progress')).join('\n')));
    const progress = lines.filter((l) => l.event === 'index-progress') as { build?: { index: string; phase: string; blocksDone: number; blocksTotal: number; tuplesDone: number }; percent: number }[];
    assert.ok(progress.length >= 1, 'no index-progress line');
    for (const p of progress) {
      assert.ok(p.build && INDEX_PHASES.test(p.build.phase), JSON.stringify(p));
      assert.ok(Number.isInteger(p.percent) && p.percent < 100);
    }
    assert.ok(progress.some((p) => (p.build?.blocksTotal ?? 0) > 0 || (p.build?.tuplesDone ?? 0) > 0), 'no counters in any index-progress line');
  });
});
