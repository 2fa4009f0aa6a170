// The text-format COPY row counter: one row per newline byte, however the stream is chunked.

import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import type { RowCounterOptions } from '../../src/pg/binary-copy.js';
import { TextCopyRowCounter } from '../../src/pg/text-copy.js';

// What COPY … TO STDOUT (FORMAT text) emits: tabs, newlines, carriage returns and backslashes inside values are
// escaped, NULL is \N, and multi-byte UTF-8 passes as it is.
const ROWS = [
  '1\tplain\t\\N\n',
  '2\ta tab\\there and a newline\\nthere\t{1,2}\n',
  '3\tcarriage\\r\\nreturn\tback\\\\slash\n',
  '4\tünïcödé ✓ 漢字 🚀\t[0.25,-1.5,3e-05]\n',
  '5\t\t\n', // an empty string
];
const DATA = Buffer.from(ROWS.join(''));

interface Outcome {
  counter: TextCopyRowCounter;
  out: Buffer[];
}

async function feed(chunks: readonly Buffer[], options?: RowCounterOptions): Promise<Outcome> {
  const counter = new TextCopyRowCounter(options);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    counter,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return { counter, out };
}

async function assertCounts(chunks: readonly Buffer[], data: Buffer, rows: number, label: string): Promise<void> {
  const { counter, out } = await feed(chunks);
  assert.equal(counter.rows, rows, label);
  assert.equal(counter.bytes, data.length, label);
  assert.equal(counter.finished, true, label);
  const nonEmpty = chunks.filter((chunk) => chunk.length > 0);
  assert.equal(out.length, nonEmpty.length, label);
  out.forEach((chunk, i) => assert.ok(chunk === nonEmpty[i], `${label}: chunk ${i} was not passed through as-is`));
  assert.ok(Buffer.concat(out).equals(data), label);
}

test('counts one row per newline, escaped newlines inside values included', async () => {
  await assertCounts([DATA], DATA, ROWS.length, 'whole');
});

test('counts rows split at every byte boundary', async () => {
  for (let split = 0; split <= DATA.length; split++) {
    await assertCounts([DATA.subarray(0, split), DATA.subarray(split)], DATA, ROWS.length, `split at ${split}`);
  }
});

test('counts rows fed one byte per chunk', async () => {
  const chunks = Array.from({ length: DATA.length }, (_, i) => DATA.subarray(i, i + 1));
  await assertCounts(chunks, DATA, ROWS.length, 'byte by byte');
});

test('counts many rows in one chunk', async () => {
  const many = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `${i}\tvalue ${i}\n`).join(''));
  await assertCounts([many], many, 10_000, '10 000 rows');
});

test('counts zero rows for an empty table', async () => {
  await assertCounts([], Buffer.alloc(0), 0, 'no chunks');
  await assertCounts([Buffer.alloc(0)], Buffer.alloc(0), 0, 'one empty chunk');
});

test('calls onRows once per non-empty chunk with the running totals', async () => {
  const calls: [number, number][] = [];
  const first = ROWS[0]!.length + 3;
  await feed([DATA.subarray(0, first), Buffer.alloc(0), DATA.subarray(first)], { onRows: (rows, bytes) => calls.push([rows, bytes]) });
  assert.deepEqual(calls, [
    [1, first],
    [ROWS.length, DATA.length],
  ]);
});
