// One digest stream of many tables as per-table progress steps: each table's step starts when its rows arrive and
// ends once, with its own rows, however the tables interleave; tables that sent nothing end with the stream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressTracker } from '../../src/engine/progress-tracker.js';
import { StreamProgress } from '../../src/engine/stream-progress.js';
import type { SyncEvent } from '../../src/types.js';

const TABLES = ['a', 'b', 'c'].map((name) => ({ schema: 'public', name, sourceRows: 10 }));

function run(feed: (progress: StreamProgress) => void) {
  const events: SyncEvent[] = [];
  const current: (string | undefined)[] = [];
  const tracker = new ProgressTracker((e) => events.push(e), true);
  tracker.setPhase('verification');
  const progress = new StreamProgress(tracker, TABLES, (table) => current.push(table));
  feed(progress);
  const steps = events.flatMap((e) => (e.type === 'table-start' || e.type === 'table-end' ? [`${e.type === 'table-start' ? '+' : '-'}${e.table}`] : []));
  return { steps, current };
}

test('tables streamed one after another each get one step, in stream order, with their own rows', () => {
  const { steps, current } = run((p) => {
    p.streaming([4, 0, 0], 100);
    p.streaming([10, 0, 0], 200);
    p.streaming([10, 0, 3], 300);
    p.ended([10, 0, 3], 300);
  });
  assert.deepEqual(steps, ['+a', '-a', '+c', '-c', '+b', '-b']);
  assert.deepEqual(current, ['public.a', 'public.c', undefined]);
});

test('interleaved tables end each step once; a table that comes back is not started again', () => {
  const { steps } = run((p) => {
    p.streaming([1, 0, 0], 10);
    p.streaming([1, 1, 0], 20);
    p.streaming([2, 1, 0], 30);
    p.streaming([2, 2, 1], 40);
    p.ended([2, 2, 1], 40);
  });
  assert.deepEqual(steps, ['+a', '-a', '+b', '-b', '+c', '-c']);
});
