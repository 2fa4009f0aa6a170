// The progress tracker's cost model on a fake clock: weights, totals, ETA, and a percent that never goes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFraction, type CostTable } from '../../src/engine/cost-model.js';
import { ProgressTracker } from '../../src/engine/progress-tracker.js';
import type { SyncEvent } from '../../src/types.js';
import type { IndexBuildSample } from '../../src/pg/index-progress.js';
import { mulberry32 } from '../support/random.js';

const MB = 1048576;

class FakeClock {
  t = 1_700_000_000_000;
  now = () => this.t;
  tick(ms: number): void { this.t += ms; }
}

type ProgressEvent = Exclude<SyncEvent, { type: 'plan' } | { type: 'warning' } | { type: 'trigger-mode' }>;

function recorder() {
  const clock = new FakeClock();
  const events: ProgressEvent[] = [];
  const tracker = new ProgressTracker((e) => {
    if (e.type !== 'plan' && e.type !== 'warning' && e.type !== 'trigger-mode') events.push(e);
  }, false, clock.now);
  return { clock, events, tracker, last: () => events.at(-1)! };
}

function sample(clock: FakeClock, fields: Partial<IndexBuildSample>): IndexBuildSample {
  return { phase: 'building index: loading tuples', blocksDone: 0, blocksTotal: 0, tuplesDone: 0, tuplesTotal: 0, table: undefined, index: undefined, position: undefined, command: 'CREATE INDEX', sampledAt: clock.now(), ...fields };
}

/** Copies one table in `ms`, with progress halfway. */
function copy(r: ReturnType<typeof recorder>, table: CostTable, ms: number): void {
  r.tracker.startTable(table.name, table.sourceRows, 'binary');
  r.clock.tick(ms / 2);
  r.tracker.tableProgress(Math.floor(table.sourceRows / 2), 100);
  r.clock.tick(ms / 2);
  r.tracker.endTable(table.sourceRows, 200);
}

/** Every progress event must be clean: an integer percent in 0–100 and nothing JSON would print as null. */
function assertClean(events: ProgressEvent[], context: string, sync = true): void {
  let previous = 0;
  for (const e of events) {
    assert.ok(Number.isInteger(e.percent) && e.percent >= 0 && e.percent <= 100, `${context}: percent ${e.percent}`);
    assert.ok(e.percent >= previous, `${context}: percent went from ${previous} to ${e.percent} at ${e.type}`);
    previous = e.percent;
    assert.ok(e.etaSeconds === undefined || (Number.isFinite(e.etaSeconds) && e.etaSeconds >= 0), `${context}: eta ${e.etaSeconds}`);
    const json = JSON.stringify(e);
    assert.ok(!json.includes('null'), `${context}: ${json}`);
    if (sync && e.percent === 100) assert.equal(e.type, 'done', `${context}: 100 % before the commit (${e.type})`);
  }
}

test('weights the copy by table size: the first quarter of the bytes is a quarter of the run, whatever the machine speed', () => {
  for (const msPerMb of [100, 1000, 10]) {
    const r = recorder();
    const a: CostTable = { name: 'a', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [] };
    const b: CostTable = { name: 'b', sourceRows: 100, sourceBytes: 30 * MB, indexes: [] };
    r.tracker.setPlan([a, b]);
    r.tracker.setPhase('copy');
    copy(r, a, 10 * msPerMb);
    const percent = r.last().percent;
    // At the model's own speed it is exact; 10× off either way, the first second's guess leaves a few points.
    const [low, high] = msPerMb === 100 ? [24, 25] : [20, 28];
    assert.ok(percent >= low && percent <= high, `${msPerMb} ms/MB: ${percent} % after 10 of 40 MB`);
  }
});

test('weights index builds by method: an HNSW index makes the copy a smaller share than a B-tree does', () => {
  const after = (method: string) => {
    const r = recorder();
    const t: CostTable = { name: 't', sourceRows: 10_000, sourceBytes: 100 * MB, indexes: [{ name: 'i', method }] };
    r.tracker.setPlan([t]);
    r.tracker.setPhase('copy');
    copy(r, t, 10_000);
    return r.last().percent;
  };
  const hnsw = after('hnsw');
  const btree = after('btree');
  assert.ok(hnsw >= 55 && hnsw <= 68, `copy before an HNSW build: ${hnsw} %`);
  assert.ok(btree >= 95, `copy before a B-tree build: ${btree} %`);
});

test('counts rows to the plan\'s totals, and a checksum pass does not take synced rows back to 0', () => {
  const r = recorder();
  const tables: CostTable[] = [
    { name: 'a', sourceRows: 1000, sourceBytes: MB, indexes: [{ name: 'a1', method: 'btree' }] },
    { name: 'b', sourceRows: 3000, sourceBytes: 3 * MB, indexes: [] },
  ];
  r.tracker.setPlan(tables, { verify: 'checksum' });
  assert.equal(r.tracker.totalRows, 4000);
  assert.equal(r.tracker.totalIndexes, 1);
  r.tracker.setPhase('copy');
  for (const t of tables) copy(r, t, 500);
  assert.equal(r.last().syncedRows, 4000);
  r.tracker.setPhase('indexing');
  r.tracker.indexStarted('a', 'a1');
  assert.equal(r.last().build?.position, 1);
  assert.equal(r.last().build?.count, 1);
  r.clock.tick(100);
  r.tracker.indexBuilt('a', 'a1', 0.1);
  assert.equal(r.last().indexesBuilt, 1);
  r.tracker.setPhase('verification');
  r.tracker.restartCounting();
  r.tracker.startTable('a', 1000);
  r.clock.tick(300);
  r.tracker.tableProgress(400, 0);
  const comparing = r.last();
  assert.equal(comparing.tableRows, 400);
  assert.equal(comparing.tableTotal, 1000);
  assert.equal(comparing.syncedRows, 4000);
  r.tracker.endTable(1000, 0);
  copy(r, tables[1]!, 300);
  assert.equal(r.last().syncedRows, 4000);
  assert.ok(r.last().percent < 100);
  r.tracker.complete();
  assert.equal(r.last().type, 'done');
  assert.equal(r.last().percent, 100);
  assert.equal(r.last().etaSeconds, 0);
  assertClean(r.events, 'checksum run');
});

test('says no ETA until a second of work is measured, then the seconds the model expects', () => {
  const r = recorder();
  const a: CostTable = { name: 'a', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [] };
  const b: CostTable = { name: 'b', sourceRows: 1000, sourceBytes: 30 * MB, indexes: [] };
  r.tracker.setPlan([a, b]);
  r.tracker.setPhase('copy');
  assert.equal(r.last().etaSeconds, undefined);
  r.tracker.startTable('a', 1000);
  r.clock.tick(500);
  r.tracker.tableProgress(250, 0);
  assert.equal(r.last().etaSeconds, undefined, 'half a second is too little to say');
  r.clock.tick(1500);
  r.tracker.endTable(1000, 0); // 10 MB in 2 s: the remaining 30 MB should take about 6 s
  const eta = r.last().etaSeconds;
  assert.ok(eta !== undefined && eta >= 5 && eta <= 7, `ETA ${eta}`);
});

test('a slow HNSW build corrects the model from its own blocks: the ETA grows, the percent slows but never falls', () => {
  const r = recorder();
  const t: CostTable = { name: 'pages', sourceRows: 10_000, sourceBytes: 100 * MB, indexes: [{ name: 'pages_hnsw', method: 'hnsw' }] };
  r.tracker.setPlan([t]);
  r.tracker.setPhase('copy');
  copy(r, t, 10_000); // the model now expects ~6 s of HNSW
  r.tracker.setPhase('indexing');
  r.tracker.indexStarted('pages', 'pages_hnsw');
  const atStart = r.last().percent;
  // The build really takes 100 s: blocks advance 1 % a second.
  for (let s = 1; s <= 50; s++) {
    r.clock.tick(1000);
    r.tracker.indexProgress(sample(r.clock, { table: 'pages', blocksDone: s * 100, blocksTotal: 10_000, tuplesDone: s * 100 }));
  }
  const halfway = r.last();
  assert.equal(halfway.type, 'index-progress');
  assert.equal(halfway.build?.phase, 'loading tuples');
  assert.equal(halfway.build?.blocksDone, 5000);
  assert.equal(halfway.build?.blocksTotal, 10_000);
  assert.ok(halfway.build?.percent !== undefined && halfway.build.percent >= 45 && halfway.build.percent <= 50);
  const eta = halfway.etaSeconds;
  assert.ok(eta !== undefined && eta >= 40 && eta <= 60, `ETA halfway through a 100 s build: ${eta}`);
  assert.ok(halfway.percent >= atStart && halfway.percent < 99, `percent ${halfway.percent}`);
  r.clock.tick(50_000);
  r.tracker.indexBuilt('pages', 'pages_hnsw', 100);
  r.tracker.setPhase('verification');
  r.tracker.complete();
  assertClean(r.events, 'slow hnsw');
});

test('drops index readings taken before the current build began, and readings about another table', () => {
  const r = recorder();
  const t: CostTable = { name: 't', sourceRows: 100, sourceBytes: MB, indexes: [{ name: 'i1', method: 'btree' }, { name: 'i2', method: 'btree' }] };
  r.tracker.setPlan([t]);
  r.tracker.setPhase('indexing');
  r.tracker.indexStarted('t', 'i1');
  const stale = sample(r.clock, { phase: 'building index: loading tuples in tree', tuplesDone: 90, tuplesTotal: 100 });
  r.clock.tick(300);
  r.tracker.indexBuilt('t', 'i1', 0.3);
  r.clock.tick(10);
  r.tracker.indexStarted('t', 'i2');
  r.clock.tick(300);
  r.tracker.indexProgress(stale);
  r.tracker.indexProgress(sample(r.clock, { phase: 'building index: scanning table', table: 'other', blocksDone: 5, blocksTotal: 10 }));
  assert.equal(r.tracker.fields().build?.phase, 'starting');
  r.tracker.indexProgress(sample(r.clock, { phase: 'building index: scanning table', table: 't', blocksDone: 5, blocksTotal: 10 }));
  assert.equal(r.tracker.fields().build?.phase, 'scanning table');
  assert.equal(r.tracker.fields().build?.position, 2);
});

test('estimates a build\'s own progress from its phase: forward through each method\'s phases', () => {
  const s = (phase: string, blocks: [number, number], tuples: [number, number]) =>
    ({ phase: `building index: ${phase}`, blocksDone: blocks[0], blocksTotal: blocks[1], tuplesDone: tuples[0], tuplesTotal: tuples[1] });
  const sequences: [string, ReturnType<typeof s>[]][] = [
    ['btree', [s('scanning table', [1, 10], [0, 0]), s('scanning table', [10, 10], [0, 0]), s('sorting live tuples', [0, 0], [0, 0]), s('loading tuples in tree', [0, 0], [10, 100]), s('loading tuples in tree', [0, 0], [100, 100])]],
    ['ivfflat', [s('initializing', [0, 0], [0, 0]), s('performing k-means', [0, 0], [0, 0]), s('assigning tuples', [5, 10], [0, 0]), s('loading tuples', [10, 10], [50, 100])]],
    ['hnsw', [s('initializing', [0, 0], [0, 0]), s('loading tuples', [1, 100], [5, 0]), s('loading tuples', [99, 100], [500, 0])]],
    ['gin', [{ phase: 'building index', blocksDone: 1, blocksTotal: 4, tuplesDone: 0, tuplesTotal: 0 }, { phase: 'building index', blocksDone: 4, blocksTotal: 4, tuplesDone: 0, tuplesTotal: 0 }]],
  ];
  for (const [method, phases] of sequences) {
    let previous = -1;
    for (const p of phases) {
      const f = buildFraction(method, p);
      assert.ok(f !== undefined && f >= previous && f < 1, `${method} ${p.phase}: ${f} after ${previous}`);
      previous = f;
    }
  }
  assert.equal(buildFraction('hnsw', s('loading tuples', [0, 0], [10, 0])), undefined, 'HNSW before its scan reports blocks: unknown');
  assert.equal(buildFraction('gin', { phase: 'waiting for writers before build', blocksDone: 0, blocksTotal: 0, tuplesDone: 0, tuplesTotal: 0 }), undefined);
  assert.equal(buildFraction('btree', s('scanning table', [Number.NaN, 10], [0, 0])), 0);
});

/** A tiny deterministic generator, so a failing order can be replayed from its seed. */
function seeded(seed: number) {
  const next = mulberry32(seed);
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}

const PLAN: CostTable[] = [
  { name: 'sources', sourceRows: 40, sourceBytes: 0.1 * MB, indexes: [{ name: 'sources_title', method: 'btree' }] },
  { name: 'pages', sourceRows: 50_000, sourceBytes: 550 * MB, indexes: [
    { name: 'pages_hnsw', method: 'hnsw' }, { name: 'pages_trgm', method: 'gin', definition: 'USING gin (content gin_trgm_ops)' },
    { name: 'pages_ivf', method: 'ivfflat' }, { name: 'pages_src', method: 'btree' },
  ] },
  { name: 'empty', sourceRows: 0, sourceBytes: 0, indexes: [] },
  { name: 'no_size', sourceRows: 500, indexes: [{ name: 'no_size_gist', method: 'gist' }] },
];

test('the percent never decreases and is never garbage, for a real run\'s order at any pace, with or without the engine\'s newer calls', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const g = seeded(seed);
    const r = recorder();
    const wait = () => r.clock.tick(g.pick([0, 1, 10, 250, 1000, 30_000]) * (1 + g.next()));
    const withPlan = g.next() < 0.85;
    const verify = g.pick(['count', 'checksum'] as const);
    const withStarts = g.next() < 0.7;
    const withSamples = g.next() < 0.7;
    r.tracker.setPhase('validation');
    wait();
    // An incremental-capable run diffs first; the plan may come before the diff (with it), after it, or both.
    const diffing = g.next() < 0.5;
    const planFirst = withPlan && (!diffing || g.next() < 0.5);
    if (planFirst) r.tracker.setPlan(PLAN, { verify, diff: diffing ? PLAN : undefined });
    else {
      r.tracker.totalRows = PLAN.reduce((s, t) => s + t.sourceRows, 0);
      r.tracker.totalIndexes = PLAN.reduce((s, t) => s + t.indexes.length, 0);
    }
    if (diffing) {
      r.tracker.setPhase('compare');
      for (const t of PLAN) {
        r.tracker.startTable(t.name, t.sourceRows);
        wait();
        r.tracker.tableProgress(Math.floor(t.sourceRows / 2), 10);
        r.tracker.endTable(t.sourceRows, 20);
      }
    }
    wait();
    r.tracker.setPhase('copy');
    if (withPlan && (!planFirst || g.next() < 0.5)) r.tracker.setPlan(PLAN, { verify });
    for (const t of PLAN) {
      r.tracker.startTable(t.name, t.sourceRows, 'binary');
      for (let k = 0, n = g.int(6); k < n; k++) {
        wait();
        r.tracker.tableProgress(Math.min(t.sourceRows, Math.floor((t.sourceRows * (k + 1)) / n)), k * 1000);
      }
      wait();
      r.tracker.endTable(t.sourceRows, 5000);
    }
    r.tracker.setPhase('indexing');
    for (const t of PLAN) {
      for (const index of t.indexes) {
        const started = r.clock.now();
        if (withStarts) r.tracker.indexStarted(t.name, index.name);
        if (withSamples) {
          for (let k = 0, n = g.int(8); k < n; k++) {
            wait();
            const phase = g.pick(['building index: scanning table', 'building index: loading tuples', 'building index: sorting live tuples', 'initializing', '']);
            r.tracker.indexProgress(sample(r.clock, {
              phase, table: g.next() < 0.9 ? t.name : 'elsewhere', blocksDone: g.int(1000), blocksTotal: g.pick([0, 1000]),
              tuplesDone: g.int(5000), tuplesTotal: g.pick([0, 5000]), sampledAt: r.clock.now() - g.int(2000),
            }));
          }
        }
        wait();
        r.tracker.indexBuilt(t.name, index.name, (r.clock.now() - started) / 1000);
      }
    }
    wait();
    r.tracker.setPhase('verification');
    if (verify === 'checksum') {
      r.tracker.restartCounting();
      for (const t of PLAN) {
        r.tracker.startTable(t.name, t.sourceRows);
        wait();
        r.tracker.tableProgress(Math.floor(t.sourceRows / 3), 0);
        wait();
        r.tracker.endTable(t.sourceRows, 0);
      }
    }
    wait();
    // The engine today sets the phase again after COMMIT; a finished engine calls complete().
    r.tracker.setPhase('verification');
    const beforeCommit = r.last().percent;
    assert.ok(beforeCommit <= 99, `seed ${seed}: ${beforeCommit} before the commit`);
    if (withPlan || g.next() < 0.5) {
      r.tracker.complete();
      assert.equal(r.last().percent, 100, `seed ${seed}`);
    }
    assertClean(r.events, `seed ${seed} (plan ${withPlan}, starts ${withStarts}, samples ${withSamples}, ${verify})`);
    assert.equal(r.events.filter((e) => e.type === 'table-end' && e.phase === 'copy').at(-1)?.syncedRows, r.tracker.totalRows);
  }
});

test('the percent never decreases whatever the order of calls, even nonsensical ones', () => {
  const tables = PLAN.map((t) => t.name).concat('unplanned');
  const indexes = PLAN.flatMap((t) => t.indexes.map((i) => [t.name, i.name] as const)).concat([['pages', 'unplanned_index']]);
  for (let seed = 1; seed <= 300; seed++) {
    const g = seeded(seed * 7919);
    const r = recorder();
    if (g.next() < 0.7) r.tracker.setPlan(PLAN, { verify: g.pick(['count', 'checksum'] as const) });
    for (let step = 0; step < 80; step++) {
      r.clock.tick(g.pick([0, 5, 300, 2000, 60_000]));
      const [table, index] = g.pick(indexes);
      switch (g.int(11)) {
        case 0: r.tracker.setPhase(g.pick(['validation', 'compare', 'copy', 'indexing', 'verification'] as const)); break;
        case 1: r.tracker.startTable(g.pick(tables), g.pick([0, 10, 50_000])); break;
        case 2: r.tracker.tableProgress(g.pick([0, 5, 60_000, -1]), g.int(1e6)); break;
        case 3: r.tracker.endTable(g.pick([0, 10, 50_000]), g.int(1e6)); break;
        case 4: r.tracker.indexStarted(table, index); break;
        case 5: r.tracker.indexProgress(sample(r.clock, { table, blocksDone: g.int(100), blocksTotal: g.pick([0, 50, 100]), tuplesDone: g.int(100), tuplesTotal: g.pick([0, 100]), sampledAt: r.clock.now() - g.int(5000) })); break;
        case 6: r.tracker.indexBuilt(table, index, g.pick([0, 0.5, 100])); break;
        case 7: r.tracker.restartCounting(); break;
        case 9: r.tracker.setPlan(PLAN.slice(g.int(PLAN.length)), { verify: g.pick(['count', 'checksum'] as const), diff: g.next() < 0.5 ? PLAN : undefined }); break;
        default: r.tracker.fields(); break;
      }
    }
    const lastBeforeEnd = Math.max(0, ...r.events.map((e) => e.percent));
    assert.ok(lastBeforeEnd <= 99, `seed ${seed}: ${lastBeforeEnd} % without complete()`);
    r.tracker.complete();
    assertClean(r.events, `seed ${seed}`);
  }
});

test('without a plan it keeps the row-based percent: verify follows rows compared', () => {
  const clock = new FakeClock();
  const events: ProgressEvent[] = [];
  const tracker = new ProgressTracker((e) => { if (e.type !== 'plan' && e.type !== 'warning' && e.type !== 'trigger-mode') events.push(e); }, true, clock.now);
  tracker.totalRows = 200;
  tracker.setPhase('verification');
  tracker.startTable('a', 100);
  clock.tick(300);
  tracker.tableProgress(50, 0);
  assert.equal(events.at(-1)?.percent, 25);
  tracker.endTable(100, 0);
  tracker.startTable('b', 100);
  tracker.endTable(100, 0);
  assert.equal(events.at(-1)?.percent, 100);
  assert.equal(events.at(-1)?.etaSeconds, undefined);
  assertClean(events, 'verify', false);
});

test('verify with a plan gets an ETA and ends at 100 % with its last compared row', () => {
  const clock = new FakeClock();
  const events: ProgressEvent[] = [];
  const tracker = new ProgressTracker((e) => { if (e.type !== 'plan' && e.type !== 'warning' && e.type !== 'trigger-mode') events.push(e); }, true, clock.now);
  tracker.setPlan([{ name: 'a', sourceRows: 100, sourceBytes: 10 * MB, indexes: [] }, { name: 'b', sourceRows: 100, sourceBytes: 10 * MB, indexes: [] }]);
  tracker.setPhase('verification');
  tracker.startTable('a', 100);
  clock.tick(2000);
  tracker.tableProgress(100, 0);
  tracker.endTable(100, 0);
  const half = events.at(-1)!;
  assert.ok(half.percent >= 45 && half.percent <= 50, `${half.percent} % after one of two equal tables`);
  assert.ok(half.etaSeconds !== undefined && half.etaSeconds >= 1 && half.etaSeconds <= 3, `ETA ${half.etaSeconds}`);
  tracker.startTable('b', 100);
  clock.tick(2000);
  tracker.endTable(100, 0);
  assert.equal(events.at(-1)?.percent, 100);
  assertClean(events, 'verify with a plan', false);
});

test('a build noticed through a reading keeps that reading when started at the reading\'s time', () => {
  const r = recorder();
  const t: CostTable = { name: 't', sourceRows: 100, sourceBytes: MB, indexes: [{ name: 'a1', method: 'btree' }, { name: 'h', method: 'hnsw' }] };
  r.tracker.setPlan([t]);
  r.tracker.setPhase('indexing');
  r.tracker.indexStarted('t', 'a1');
  r.clock.tick(400);
  const revealing = sample(r.clock, { table: 't', position: 1, blocksDone: 7, blocksTotal: 70 });
  r.clock.tick(30); // the reading's round trip
  r.tracker.indexBuilt('t', 'a1', 0.4);
  r.tracker.indexStarted('t', 'h', revealing.sampledAt);
  r.tracker.indexProgress(revealing);
  assert.deepEqual([r.tracker.fields().build?.index, r.tracker.fields().build?.blocksDone], ['h', 7]);
  // A reading of the build before, taken earlier still, is not about this one.
  r.tracker.indexProgress(sample(r.clock, { table: 't', position: 0, blocksDone: 1, blocksTotal: 70, sampledAt: revealing.sampledAt - 100 }));
  assert.equal(r.tracker.fields().build?.blocksDone, 7);
  assert.ok(Math.abs((r.tracker.fields().build?.seconds ?? 0) - 0.03) < 0.001, 'the build is timed from the reading');
  r.tracker.indexStarted('t', 'h', Number.NaN);
  assertClean(r.events, 'noticed by a reading');
});

test('the compare phase (diff before an incremental load) counts no synced rows, and a plan given after it goes on from there', () => {
  const r = recorder();
  const tables: CostTable[] = [
    { name: 'a', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [] },
    { name: 'b', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [{ name: 'b_hnsw', method: 'hnsw' }] },
  ];
  r.tracker.totalRows = 2000;
  r.tracker.setPhase('compare');
  for (const t of tables) copy(r, t, 1000);
  assert.equal(r.last().syncedRows, 0, 'digests read are not rows synced');
  assert.equal(r.last().percent, 0);
  // The engine enters the copy phase, then gives the plan of what the diff decided: only b moves.
  r.tracker.setPhase('copy');
  assert.equal(r.last().percent, 0, 'no jump to 90 % from rows the diff read');
  r.tracker.setPlan([tables[1]!], { verify: 'count' });
  copy(r, tables[1]!, 1000);
  const afterCopy = r.last().percent;
  assert.ok(afterCopy >= 55 && afterCopy <= 70, `${afterCopy} % after b's copy, before its HNSW build`);
  assert.equal(r.last().syncedRows, 1000);
  r.tracker.complete();
  assertClean(r.events, 'compare then plan');
});

test('a plan that includes the diff weighs it, and a second plan after it keeps what was done', () => {
  const r = recorder();
  const a: CostTable = { name: 'a', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [] };
  const b: CostTable = { name: 'b', sourceRows: 1000, sourceBytes: 10 * MB, indexes: [] };
  r.tracker.setPlan([a, b], { diff: [a, b] });
  r.tracker.setPhase('compare');
  copy(r, a, 570);
  copy(r, b, 570);
  const afterDiff = r.last().percent;
  // Diffing reads both tables (0.57 of a copy each), then both would be copied: about 36 %.
  assert.ok(afterDiff >= 30 && afterDiff <= 42, `${afterDiff} % after the diff`);
  r.tracker.setPhase('copy');
  r.tracker.setPlan([{ ...a, sourceRows: 10, sourceBytes: 0.1 * MB }]);
  assert.ok(r.tracker.fields().percent >= afterDiff);
  const eta = r.tracker.fields().etaSeconds;
  assert.ok(eta !== undefined && eta <= 1, `little is left after the diff chose a small load: ETA ${eta}`);
  copy(r, { ...a, sourceRows: 10 }, 10);
  r.tracker.complete();
  assertClean(r.events, 'diff plan');
});
