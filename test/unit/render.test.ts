// What people and cron see: durations, the two live lines, problems one a line, the summary's words, JSON index progress.
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { jsonRenderer } from '../../src/cli/json-renderer.js';
import { formatDuration, overallLine, stepLine } from '../../src/cli/live-lines.js';
import { prettyRenderer } from '../../src/cli/pretty-renderer.js';
import { fullComparisonLines, historyTable } from '../../src/cli/tables.js';
import type { IndexBuildProgress, ProgressFields, SyncEvent, SyncPlan, SyncResult } from '../../src/types.js';
import { CopyError, ValidationError } from '../../src/errors.js';

const GARBAGE = /NaN|Infinity|null|undefined|LLs|NFs/;

function fields(overrides: Partial<ProgressFields> = {}): ProgressFields {
  return {
    phase: 'copy', table: 'archon_crawled_pages', tableRows: 12_345, tableTotal: 40_000, syncedRows: 12_400, totalRows: 41_000,
    percent: 42, etaSeconds: 190, elapsedSeconds: 62, bytes: 1e8, rowsPerSecond: 5210, indexesBuilt: 0, totalIndexes: 69, build: undefined,
    ...overrides,
  };
}

function build(overrides: Partial<IndexBuildProgress> = {}): IndexBuildProgress {
  return {
    index: 'idx_archon_crawled_pages_embedding_1536_hnsw', table: 'archon_crawled_pages', method: 'hnsw', position: 12, count: 69,
    phase: 'loading tuples', blocksDone: 1234, blocksTotal: 5000, tuplesDone: 8000, tuplesTotal: 0, percent: 24, seconds: 75,
    ...overrides,
  };
}

/** A stream that keeps what is written; `isTTY` as asked. */
function sink(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  let text = '';
  stream.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  stream.isTTY = isTTY;
  stream.columns = 100;
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

function result(overrides: Record<string, unknown> = {}): SyncResult {
  return {
    syncId: 'sync_20260101_000000', plan: { skippedTables: [] }, bytes: 10, warnings: [], triggerSuppression: 'replica-role', comparedInFull: {},
    durations: { validation: 0.1, compare: 0, copy: 1, indexing: 2, verification: 0.1, total: 3.3 },
    tables: [{ table: 'archon_settings', format: 'binary', mode: 'full', inserted: 4, updated: 0, deleted: 0, sourceRows: 4, copiedRows: 4, targetRows: 4, bytes: 10, seconds: 0.1 }],
    backup: { kept: true, syncId: 'sync_20260101_000000', dir: '/tmp/backups/db-0123/sync_20260101_000000', bytes: 2048, tables: 1, seconds: 0.1 },
    targetEdits: { inserted: 0, updated: 0, deleted: 0, tables: [], untold: [], policy: 'ask' },
    ...overrides,
  } as unknown as SyncResult;
}

test('formats durations for people, and anything unknown or absurd as a dash', () => {
  const cases: [number | undefined | null, string][] = [
    [0, '0s'], [0.4, '0s'], [59.4, '59s'], [59.6, '1m 00s'], [61, '1m 01s'], [3599, '59m 59s'], [3600, '1h 00m'], [3725, '1h 02m'],
    [360_000, '100h'], [undefined, '–'], [null, '–'], [Number.NaN, '–'], [Number.POSITIVE_INFINITY, '–'], [Number.NEGATIVE_INFINITY, '–'], [-1, '–'],
  ];
  for (const [input, expected] of cases) assert.equal(formatDuration(input), expected, String(input));
});

test('the overall line is a percent of the run with elapsed time and ETA, never a row count or garbage', () => {
  const line = overallLine(fields(), 62, false);
  assert.match(line, /^overall\s+[█░]{20}\s+42% \| elapsed 1m 02s \| ETA 3m 10s$/);
  assert.doesNotMatch(line, /rows/);
  for (const odd of [fields({ percent: Number.NaN, etaSeconds: undefined }), fields({ percent: Number.POSITIVE_INFINITY, etaSeconds: Number.NaN }), fields({ percent: -5 })]) {
    assert.doesNotMatch(overallLine(odd, Number.NaN, false), GARBAGE);
  }
  assert.match(overallLine(fields({ percent: 100 }), 10, false), /100% .*done$/);
});

test('the step line counts rows for copy and compare, and blocks or tuples with the phase for an index build', () => {
  const copying = stepLine(fields(), false);
  assert.match(copying, /^copy\s+[█░]{20} 12,345\/40,000 rows \| 5,210 rows\/s \| archon_crawled_pages$/);
  const comparing = stepLine(fields({ phase: 'verification', tableRows: 10, tableTotal: 20 }), false);
  assert.match(comparing, /^compare .* 10\/20 rows/);
  const indexing = stepLine(fields({ phase: 'indexing', build: build() }), false);
  assert.match(indexing, /^index\s+[█░]{20} hnsw loading tuples: 1,234\/5,000 blocks, 8,000 tuples \| 1m 15s \| 12\/69 idx_archon_crawled_pages_embedding_1536_hnsw$/);
  assert.doesNotMatch(indexing, /rows/);
  const btree = stepLine(fields({ phase: 'indexing', build: build({ method: 'btree', phase: 'loading tuples in tree', blocksTotal: 0, tuplesDone: 5, tuplesTotal: 10 }) }), false);
  assert.match(btree, /loading tuples in tree: 5\/10 tuples/);
  const starting = stepLine(fields({ phase: 'indexing', build: build({ phase: 'starting', blocksDone: 0, blocksTotal: 0, tuplesDone: 0, percent: undefined, seconds: 0 }) }), false);
  assert.match(starting, /hnsw starting \| 0s \| 12\/69/);
  const legacy = stepLine(fields({ phase: 'indexing', indexesBuilt: 3 }), false, 'idx_x');
  assert.match(legacy, /3\/69 indexes built \| last idx_x/);
  for (const f of [fields({ tableTotal: 0, tableRows: Number.NaN, rowsPerSecond: Number.POSITIVE_INFINITY }), fields({ phase: 'validation', table: undefined }),
    fields({ phase: 'verification', table: undefined }), fields({ phase: 'indexing', totalIndexes: 0 }),
    fields({ phase: 'indexing', build: build({ blocksDone: Number.NaN, percent: undefined, seconds: Number.NaN }) })]) {
    assert.doesNotMatch(stepLine(f, false), GARBAGE, JSON.stringify(f));
  }
});

test('prints every validation problem, one a line, under the one archon-sync: line', () => {
  const err = sink(false);
  const out = sink(false);
  const renderer = prettyRenderer({ out: out.stream, err: err.stream, color: false, quiet: false, debug: false });
  const problems = ['the target has no "vector" extension', 'archon_sources.x exists on the source but not on the target', 'archon_tasks.y differs'];
  renderer.error(new ValidationError(`${problems[0]} (and 2 more problems; see details)`, { details: { problems }, problems: problems.map((p) => [p]) }));
  renderer.error(new CopyError('something else', { details: { problems: ['not a validation list', 'ignored'] } }));
  const lines = err.text().split('\n').filter(Boolean);
  assert.deepEqual(lines, [
    'archon-sync: the target has no "vector" extension (and 2 more problems; see details)',
    '  - archon_sources.x exists on the source but not on the target',
    '  - archon_tasks.y differs',
    'archon-sync: something else',
  ]);
});

test('the summary says how the copy was verified and how triggers were kept quiet', () => {
  const words = (overrides: Record<string, unknown>) => {
    const out = sink(false);
    prettyRenderer({ out: out.stream, err: sink(false).stream, color: false, quiet: false, debug: false }).summary(result(overrides));
    return out.text();
  };
  const counted = words({});
  assert.match(counted, /completed sync_20260101_000000: 4 rows .*; row counts verified\n/);
  assert.match(counted, /session_replication_role = replica/);
  const checksummed = words({ verify: 'checksum', triggerSuppression: 'disabled-triggers' });
  assert.match(checksummed, /every row's checksum verified/);
  assert.doesNotMatch(checksummed, /row counts verified/);
  assert.match(checksummed, /disabled by name/);
});

test('the summary says which tables the last watermark could not vouch for, one line per reason', () => {
  const table = (name: string) => ({ table: name, format: 'binary', mode: 'incremental', inserted: 0, updated: 0, deleted: 0, sourceRows: 1, copiedRows: 0, targetRows: 1, bytes: 0, seconds: 0 });
  const tables = ['archon_settings', 'archon_tasks', 'archon_prompts', 'archon_sources', 'archon_projects'].map(table);
  const out = sink(false);
  prettyRenderer({ out: out.stream, err: sink(false).stream, color: false, quiet: false, debug: false }).summary(result({
    tables,
    comparedInFull: { archon_settings: 'its definition changed on the source since sync_1', archon_tasks: 'the table was replaced on the target since sync_1' },
  }));
  assert.match(out.text(), /row counts verified\narchon_settings compared in full: its definition changed on the source since sync_1\narchon_tasks compared in full: the table was replaced on the target since sync_1\n/);
  const everyTable = Object.fromEntries(tables.map((t) => [t.table, 'the source database was re-created or altered since sync_1']));
  assert.deepEqual(fullComparisonLines({ tables, comparedInFull: everyTable }), ['every table compared in full: the source database was re-created or altered since sync_1']);
  const four = Object.fromEntries(tables.slice(0, 4).map((t) => [t.table, 'why']));
  assert.deepEqual(fullComparisonLines({ tables, comparedInFull: four }), ['4 tables compared in full: why']);
  assert.deepEqual(fullComparisonLines({ tables, comparedInFull: {} }), []);
});

test('a preview says which tables the last watermark could not vouch for too, and so do the JSON plan and completed lines', () => {
  const server = { versionShort: '15.4', ssl: false, pooler: undefined, user: 'postgres' };
  const tablePlan = (name: string) => ({ name, sourceRows: 1, format: 'binary', indexes: [] });
  const decision = (name: string) => ({ table: name, mode: 'incremental', reason: undefined, inserts: 0, updates: 0, deletes: 0, sourceRows: 1, targetRows: 1, rowsToCopy: 0, indexesToRebuild: 0, guardDeletes: 0 });
  const names = ['archon_settings', 'archon_tasks'];
  const comparedInFull = { archon_tasks: 'the table was replaced on the target since sync_1' };
  const plan = {
    schema: 'public', tables: names.map(tablePlan), skippedTables: [], totalRows: 2, source: server, target: server, externalReferences: [], foreignKeys: [], triggers: [], warnings: [],
    preview: {
      mode: 'auto', triggerSuppression: 'replica-role', comparedSince: 'sync_1', comparedInFull, tables: names.map(decision),
      totals: { tables: 2, incrementalTables: 2, fullTables: 0, inserts: 0, updates: 0, deletes: 0, rowsToCopy: 0, indexesToRebuild: 0 },
      guard: { maxDeleteShare: 0.5, refused: [] }, targetEdits: { inserted: 0, updated: 0, deleted: 0, tables: [], untold: [], policy: 'refuse' },
    },
  } as unknown as SyncPlan;
  const header = { direction: 'local-to-remote', source: 'local x', target: 'remote y' };
  const out = sink(false);
  prettyRenderer({ out: out.stream, err: sink(false).stream, color: false, quiet: false, debug: false }).plan(header, plan, true);
  assert.match(out.text(), /only rows written since sync_1 were compared\narchon_tasks compared in full: the table was replaced on the target since sync_1\n/);

  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  const renderer = jsonRenderer(pino({ base: null }, destination));
  renderer.plan(header, plan, true);
  renderer.summary(result({ comparedSince: 'sync_1', comparedInFull }));
  assert.deepEqual((lines[0]?.preview as { comparedInFull?: unknown } | undefined)?.comparedInFull, comparedInFull);
  assert.deepEqual(lines[1]?.comparedInFull, comparedInFull);
});

test('the history table shows each run', () => {
  const text = historyTable([
    { sync_id: 'sync_20260101_000000', direction: 'local-to-remote', status: 'failed', started_at: new Date('2026-01-01T00:00:00Z'),
      duration_seconds: 12, synced_rows: 345, triggered_by: 'cron', error_message: `x${'y'.repeat(100)}` },
    { sync_id: 'sync_20260102_000000', direction: 'remote-to-local', status: 'running', started_at: new Date('2026-01-02T03:04:05Z'),
      duration_seconds: null, synced_rows: null, triggered_by: null, error_message: null },
  ], false);
  for (const expected of ['sync id', 'started (UTC)', 'sync_20260101_000000', '2026-01-01 00:00:00', '2026-01-02 03:04:05', 'failed', 'cron', '345']) {
    assert.ok(text.includes(expected), `missing ${expected}:\n${text}`);
  }
  assert.ok(!text.includes('y'.repeat(60)), 'the error is cut to 60 characters');
  assert.doesNotMatch(text, /null|undefined/);
});

test('JSON lines carry index progress for cron, at most one every 2 s, with no null', () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  let clock = 0;
  const renderer = jsonRenderer(pino({ base: null }, destination), () => clock);
  const progress = (b: IndexBuildProgress): SyncEvent => ({ type: 'index-progress', index: b.index, ...fields({ phase: 'indexing', build: b, etaSeconds: undefined }) });
  for (let k = 0; k < 10; k++) {
    clock += 500;
    renderer.event(progress(build({ blocksDone: k * 100 })));
  }
  renderer.event({ type: 'index-start', index: 'x', ...fields({ phase: 'indexing' }) });
  const indexLines = lines.filter((l) => l.event === 'index-progress');
  assert.equal(indexLines.length, 3, 'five seconds of readings every 0.5 s: three lines');
  const first = indexLines[0] as { build: IndexBuildProgress; msg: string; percent: number };
  assert.equal(first.build.phase, 'loading tuples');
  assert.equal(first.build.blocksTotal, 5000);
  assert.equal(first.msg, 'idx_archon_crawled_pages_embedding_1536_hnsw: loading tuples');
  assert.equal(first.percent, 42);
  assert.ok(lines.every((l) => l.event !== 'index-start'), 'index-start is debug-level');
  for (const l of lines) assert.doesNotMatch(JSON.stringify(l), /null|NaN/);
});

test('the live display draws both lines on a terminal, ends at 100 % on success and shows the cursor again', async () => {
  const err = sink(true);
  const out = sink(false);
  const renderer = prettyRenderer({ out: out.stream, err: err.stream, color: false, quiet: false, debug: false });
  renderer.event({ type: 'phase', ...fields({ phase: 'validation', table: undefined, percent: 0, etaSeconds: undefined }) });
  renderer.event({ type: 'progress', ...fields() });
  renderer.event({ type: 'warning', message: 'a warning during the run' });
  await new Promise((resolve) => setTimeout(resolve, 250));
  renderer.event({ type: 'index-progress', index: 'i', ...fields({ phase: 'indexing', build: build(), percent: 80 }) });
  await new Promise((resolve) => setTimeout(resolve, 150));
  renderer.summary(result());
  renderer.close();
  // eslint-disable-next-line no-control-regex
  const plain = err.text().replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '\n');
  assert.match(plain, /12,345\/40,000 rows/);
  assert.match(plain, /hnsw loading tuples: 1,234\/5,000 blocks/);
  assert.match(plain, /warning: a warning during the run/);
  assert.match(plain, /overall\s+[█]{20}\s+100% .*done/);
  assert.doesNotMatch(plain, GARBAGE);
  assert.ok(err.text().endsWith('\n') && err.text().includes('\u001b[?25h'), 'the cursor is shown again');
  assert.match(out.text(), /completed sync_/);
});
