// When a watermark may be trusted, and what it lets a run skip: the rules on their own, without a server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedSinceSql, writtenSince, type DefinitionMarks } from '../../src/pg/change-marks.js';
import type { TablePlan } from '../../src/engine/plan.js';
import { buildWatermark, judgeWatermark, type Marks } from '../../src/engine/watermark.js';

const identity = { system: '7300000000000000001', timeline: 1, database: '16384' };

function table(name: string, columns = ['id', 'body'], oids = { source: 100, target: 200 }): TablePlan {
  return { sql: `public.${name}`, name, primaryKey: ['id'], columns, textColumns: [], oids } as unknown as TablePlan;
}

/** Definitions as a side reads them: every table with its oid and the xmins of its catalog rows (old ones by default). */
function definitions(oid: number, xmins: Record<string, string[]> = {}, database = '700', relation: Record<string, string> = {}): DefinitionMarks {
  return { database, tables: Object.fromEntries(['a', 'b', 'c'].map((name) => [name, { oid, relation: relation[name] ?? '750', xmins: xmins[name] ?? ['1', '750'] }])) };
}

function marks(source: string, target: string, options: { sourceStartedAt?: string; source?: DefinitionMarks; target?: DefinitionMarks } = {}): Marks {
  return {
    source: { identity, snapshot: source, startedAt: options.sourceStartedAt ?? '2026-11-26 09:00:00+00', definitions: options.source ?? definitions(100) },
    target: {
      identity: { ...identity, system: '7300000000000000002' }, snapshot: target, startedAt: '2026-11-20 00:00:00+00',
      definitions: options.target ?? definitions(200, {}, '4000'),
    },
  };
}

const tables = [table('a'), table('b')];
const then = marks('1000:1010:1003', '5000:5002:');
// The run began on the target when 4990 was the oldest transaction still running.
const recorded = buildWatermark(then.source, then.target, '5001', '4990:4995:', tables);
const since = 'sync_20261126_090000';

function judge(watermark: unknown, now: Marks, which = tables) {
  const verdict = judgeWatermark(watermark, now, which, since);
  return { trusted: [...verdict.filters.keys()], comparedInFull: Object.fromEntries(verdict.comparedInFull) };
}

test('a watermark gives every table whose columns are unchanged a filter on each side, counted from the snapshots\' xmin', () => {
  const verdict = judgeWatermark(JSON.parse(JSON.stringify(recorded)) as unknown, marks('1200:1200:', '5100:5100:'), tables, since);
  assert.deepEqual([...verdict.filters.keys()], ['public.a', 'public.b']);
  assert.equal(verdict.comparedInFull.size, 0);
  const filter = verdict.filters.get('public.a');
  // Source: 1200 now, 1000 then: rows at most 200 ids back may be new. Target: 5100 − 5000, and the run's own 5001 is not a change.
  assert.match(filter?.source ?? '', /\(\(1200::int8 - r\.xmin::text::int8\) % 4294967296 \+ 4294967296\) % 4294967296 <= 200\)/);
  assert.match(filter?.target ?? '', /r\.xmin <> '5001'::xid AND .*5100::int8.* <= 100\)/);
});

test('a table whose key, columns or text-digested columns changed since, or that the run did not copy, is compared in full, saying why', () => {
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:'), [table('a', ['id', 'body', 'note']), table('b'), table('c')]), {
    trusted: ['public.b'],
    comparedInFull: { a: `its key, copied columns or digest form changed since ${since}`, c: `it was not copied by ${since}` },
  });
});

test('a catalog row that defines a table, written since on either side, sends that table to a full comparison', () => {
  // The source's horizon is its snapshot's xmin (1000); 1000 itself was still running then.
  const onSource = judge(recorded, marks('1200:1200:', '5100:5100:', { source: definitions(100, { a: ['1', '1000'] }) }));
  assert.deepEqual(onSource, { trusted: ['public.b'], comparedInFull: { a: `its columns, their defaults or their types changed on the source since ${since}` } });
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { source: definitions(100, { a: ['1', '999'] }) })).trusted, ['public.a', 'public.b']);
  // The target's horizon for catalog rows is where the run began (4990), not where it committed (5000): an ALTER
  // TYPE committed on the target while the run copied counts as a change.
  const onTarget = judge(recorded, marks('1200:1200:', '5100:5100:', { target: definitions(200, { b: ['4992'] }, '4000') }));
  assert.deepEqual(onTarget, { trusted: ['public.a'], comparedInFull: { b: `its columns, their defaults or their types changed on the target since ${since}` } });
  // The table's own pg_class row: a TRUNCATE, a rewrite, an ALTER TABLE.
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { source: definitions(100, {}, '700', { b: '1100' }) })).comparedInFull,
    { b: `the table was truncated, rewritten or altered on the source since ${since}` });
  // The run's own TRUNCATE wrote its tables' pg_class rows: not a change.
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { target: definitions(200, { b: ['4989'] }, '4000', { a: '5001', b: '5001' }) })).trusted, ['public.a', 'public.b']);
});

test('a table put in place of the one the watermark names, on either side, is compared in full', () => {
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { source: definitions(101) })).comparedInFull,
    { a: `the table was replaced on the source since ${since}`, b: `the table was replaced on the source since ${since}` });
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { target: definitions(201, {}, '4000') })).comparedInFull.a,
    `the table was replaced on the target since ${since}`);
});

test('a source database created again (a new pg_database row, even under its old oid) sends every table to a full comparison', () => {
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { source: definitions(100, {}, '1150') })), {
    trusted: [], comparedInFull: { a: `the source database was re-created or altered since ${since}`, b: `the source database was re-created or altered since ${since}` },
  });
  // A target put back from a copy of itself brings its history with its rows: what the watermark says still holds.
  assert.equal(judge(recorded, marks('1200:1200:', '5100:5100:', { target: definitions(200, {}, '5050') })).trusted.length, 2);
});

test('snapshots from a server\'s future, or more than 2^31 transactions back, are not trusted', () => {
  const untrusted = (now: Marks) => judge(recorded, now).trusted.length === 0;
  assert.ok(untrusted(marks('900:900:', '5100:5100:')), 'the source went back in time');
  assert.ok(untrusted(marks('1200:1200:', '4000:4000:')), 'the target went back in time');
  assert.ok(untrusted(marks('1200:1200:', '5001:5001:')), 'the run\'s own id is not yet assigned');
  assert.ok(untrusted(marks(`${1000n + 2n ** 31n}:${1000n + 2n ** 31n}:`, '5100:5100:')));
  assert.ok(!untrusted(marks(`${999n + 2n ** 31n}:${999n + 2n ** 31n}:`, '5100:5100:')));
  assert.match(judge(recorded, marks('900:900:', '5100:5100:')).comparedInFull.a ?? '', /transaction ids sync_\S+ recorded do not fit these servers now/);
});

test('a source that restarted since is not trusted (its data directory may have been put back); a restarted target is', () => {
  assert.deepEqual(judge(recorded, marks('1200:1200:', '5100:5100:', { sourceStartedAt: '2026-11-26 10:00:00+00' })).comparedInFull.a,
    `the source server restarted since ${since} (its data directory may have been put back)`);
  const now = marks('1200:1200:', '5100:5100:');
  assert.equal(judge(recorded, { ...now, target: { ...now.target, startedAt: '2026-11-26 10:00:00+00' } }).trusted.length, 2);
});

test('anything that is not a watermark of this version is ignored, not trusted and not an error; an older one is named', () => {
  const now = marks('1200:1200:', '5100:5100:');
  for (const odd of [null, 'text', {}, { ...recorded, version: 3 }, { ...recorded, target: { ...recorded.target, xid: 'x' } },
    { ...recorded, source: { ...recorded.source, snapshot: 'garbage' } }, { ...recorded, tables: null }, { ...recorded, target: { ...recorded.target, begun: undefined } }]) {
    assert.deepEqual(judge(odd, now).trusted, [], JSON.stringify(odd));
  }
  const { begun: _begun, ...v1Target } = recorded.target;
  const v1 = { ...recorded, version: 1, target: v1Target, tables: { 'public.a': 'signature' } };
  assert.equal(judge(v1, now).comparedInFull.a, `${since} was recorded by an older archon-sync, which did not note what defines each table`);
});

test('a change filter refuses a window it cannot judge', () => {
  assert.throws(() => changedSinceSql('r', { now: 10n, since: 11n }), /cannot be trusted/);
  assert.throws(() => changedSinceSql('r', { now: 2n ** 31n + 5n, since: 5n }), /cannot be trusted/);
  assert.match(changedSinceSql('t', { now: 2n ** 32n + 10n, since: 2n ** 32n, ownXid: 2n ** 32n + 7n }), /^\(t\.xmin <> '7'::xid AND /);
});

test('a catalog row\'s xmin is judged as a data row\'s would be: modulo 2^32, the run\'s own id apart, bootstrap and frozen ids old', () => {
  const mark = { now: 2n ** 32n + 10n, since: 2n ** 32n - 5n, ownXid: 2n ** 32n + 7n };
  assert.equal(writtenSince(String(2n ** 32n - 5n), mark), true, 'the oldest id still running then');
  assert.equal(writtenSince(String(2n ** 32n - 6n), mark), false);
  assert.equal(writtenSince('9', mark), true, 'an id after the wrap-around');
  assert.equal(writtenSince('7', mark), false, 'the run\'s own');
  assert.equal(writtenSince('1', mark), false, 'bootstrap');
  assert.equal(writtenSince('2', mark), false, 'frozen');
  assert.throws(() => writtenSince('9', { now: 10n, since: 11n }), /cannot be trusted/);
});
