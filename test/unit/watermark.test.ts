// When a watermark may be trusted, and what it lets a run skip: the rules on their own, without a server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedSinceSql } from '../../src/pg/change-marks.js';
import type { TablePlan } from '../../src/engine/plan.js';
import { buildWatermark, filtersFrom, type Marks } from '../../src/engine/watermark.js';

const identity = { system: '7300000000000000001', timeline: 1, database: '16384' };

function table(name: string, columns = ['id', 'body']): TablePlan {
  return { sql: `public.${name}`, primaryKey: ['id'], columns, textColumns: [] } as unknown as TablePlan;
}

function marks(source: string, target: string, sourceStartedAt = '2026-11-26 09:00:00+00'): Marks {
  return {
    source: { identity, snapshot: source, startedAt: sourceStartedAt },
    target: { identity: { ...identity, system: '7300000000000000002' }, snapshot: target, startedAt: '2026-11-20 00:00:00+00' },
  };
}

const tables = [table('a'), table('b')];
const recorded = buildWatermark(marks('1000:1010:1003', '5000:5002:').source, marks('1000:1010:1003', '5000:5002:').target, '5001', tables);

test('a watermark gives every table whose columns are unchanged a filter on each side, counted from the snapshots\' xmin', () => {
  const filters = filtersFrom(JSON.parse(JSON.stringify(recorded)) as unknown, marks('1200:1200:', '5100:5100:'), tables);
  assert.deepEqual([...(filters?.keys() ?? [])], ['public.a', 'public.b']);
  const filter = filters?.get('public.a');
  // Source: 1200 now, 1000 then: rows at most 200 ids back may be new. Target: 5100 − 5000, and the run's own 5001 is not a change.
  assert.match(filter?.source ?? '', /\(\(1200::int8 - r\.xmin::text::int8\) % 4294967296 \+ 4294967296\) % 4294967296 <= 200\)/);
  assert.match(filter?.target ?? '', /r\.xmin <> '5001'::xid AND .*5100::int8.* <= 100\)/);
});

test('a table whose key, columns or text-digested columns changed since is compared in full', () => {
  const filters = filtersFrom(recorded, marks('1200:1200:', '5100:5100:'), [table('a', ['id', 'body', 'note']), table('b'), table('c')]);
  assert.deepEqual([...(filters?.keys() ?? [])], ['public.b']);
});

test('snapshots from a server\'s future, or more than 2^31 transactions back, are not trusted', () => {
  assert.equal(filtersFrom(recorded, marks('900:900:', '5100:5100:'), tables), undefined, 'the source went back in time');
  assert.equal(filtersFrom(recorded, marks('1200:1200:', '4000:4000:'), tables), undefined, 'the target went back in time');
  assert.equal(filtersFrom(recorded, marks('1200:1200:', '5001:5001:'), tables), undefined, 'the run\'s own id is not yet assigned');
  assert.equal(filtersFrom(recorded, marks(`${1000n + 2n ** 31n}:${1000n + 2n ** 31n}:`, '5100:5100:'), tables), undefined);
  assert.ok(filtersFrom(recorded, marks(`${999n + 2n ** 31n}:${999n + 2n ** 31n}:`, '5100:5100:'), tables));
});

test('a source that restarted since is not trusted (its data directory may have been put back); a restarted target is', () => {
  assert.equal(filtersFrom(recorded, marks('1200:1200:', '5100:5100:', '2026-11-26 10:00:00+00'), tables), undefined);
  const now = marks('1200:1200:', '5100:5100:');
  assert.ok(filtersFrom(recorded, { ...now, target: { ...now.target, startedAt: '2026-11-26 10:00:00+00' } }, tables));
});

test('anything that is not a watermark of this version is ignored, not trusted and not an error', () => {
  const now = marks('1200:1200:', '5100:5100:');
  for (const odd of [null, 'text', {}, { ...recorded, version: 2 }, { ...recorded, target: { ...recorded.target, xid: 'x' } },
    { ...recorded, source: { ...recorded.source, snapshot: 'garbage' } }, { ...recorded, tables: null }]) {
    assert.equal(filtersFrom(odd, now, tables), undefined, JSON.stringify(odd));
  }
});

test('a change filter refuses a window it cannot judge', () => {
  assert.throws(() => changedSinceSql('r', { now: 10n, since: 11n }), /cannot be trusted/);
  assert.throws(() => changedSinceSql('r', { now: 2n ** 31n + 5n, since: 5n }), /cannot be trusted/);
  assert.match(changedSinceSql('t', { now: 2n ** 32n + 10n, since: 2n ** 32n, ownXid: 2n ** 32n + 7n }), /^\(t\.xmin <> '7'::xid AND /);
});
