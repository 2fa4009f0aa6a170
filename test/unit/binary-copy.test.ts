// The binary COPY row counter, fed real framing split at every possible byte boundary.

import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { BinaryCopyFormatError, BinaryCopyRowCounter } from '../../src/pg/binary-copy.js';
import { TextCopyRowCounter } from '../../src/pg/text-copy.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function header(extension?: Buffer): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeInt32BE(0, 0);
  fixed.writeInt32BE(extension?.length ?? 0, 4);
  return Buffer.concat([SIGNATURE, fixed, ...(extension ? [extension] : [])]);
}

/** One tuple; `null` is a NULL field. */
function tuple(fields: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeInt16BE(fields.length);
  parts.push(count);
  for (const field of fields) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(field === null ? -1 : field.length);
    parts.push(length);
    if (field) parts.push(field);
  }
  return Buffer.concat(parts);
}

const TRAILER = Buffer.from([0xff, 0xff]);

function payload(rows: (Buffer | null)[][], extension?: Buffer): Buffer {
  return Buffer.concat([header(extension), ...rows.map(tuple), TRAILER]);
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function feed(counter: BinaryCopyRowCounter | TextCopyRowCounter, chunks: Buffer[]): { output: Buffer; error: Error | undefined } {
  const out: Buffer[] = [];
  let error: Error | undefined;
  counter.on('data', (c: Buffer) => out.push(c));
  counter.on('error', (e: Error) => { error = e; });
  for (const chunk of chunks) counter.write(chunk);
  counter.end();
  return { output: Buffer.concat(out), error };
}

async function count(chunks: readonly Buffer[]): Promise<{ rows: number; bytes: number; finished: boolean; output: Buffer }> {
  const counter = new BinaryCopyRowCounter();
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks.slice()), counter, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return { rows: counter.rows, bytes: counter.bytes, finished: counter.finished, output: Buffer.concat(out) };
}

const SAMPLES: Record<string, Buffer> = {
  'no rows': payload([]),
  'one row': payload([[Buffer.from('hello')]]),
  'NULLs, empty fields and a header extension': payload([
    [null, Buffer.alloc(0), Buffer.from('x')],
    [Buffer.from([1, 2, 3, 4]), null, null],
    [],
  ], Buffer.from('ext!')),
  'a 6 KB vector and text per row': payload(Array.from({ length: 7 }, (_, i) => [bytes(8, i), bytes(6148, i + 1), bytes(1500 + i, i + 2), null])),
};

test('counts rows of whole payloads and passes the bytes through unchanged', async () => {
  const expected: Record<string, number> = { 'no rows': 0, 'one row': 1, 'NULLs, empty fields and a header extension': 3, 'a 6 KB vector and text per row': 7 };
  for (const [name, data] of Object.entries(SAMPLES)) {
    const result = await count([data]);
    assert.equal(result.rows, expected[name], name);
    assert.equal(result.bytes, data.length, name);
    assert.ok(result.finished, name);
    assert.ok(result.output.equals(data), name);
  }
});

test('counts rows split at every byte boundary, and one byte per chunk', () => {
  for (const [name, data] of Object.entries(SAMPLES)) {
    const whole = new BinaryCopyRowCounter();
    feed(whole, [data]);
    const step = data.length > 2000 ? 7 : 1;
    for (let split = 0; split <= data.length; split += step) {
      const counter = new BinaryCopyRowCounter();
      const { output, error } = feed(counter, [data.subarray(0, split), data.subarray(split)]);
      assert.equal(error, undefined, `${name} split at ${split}`);
      assert.equal(counter.rows, whole.rows, `${name} split at ${split}`);
      assert.ok(counter.finished);
      assert.ok(output.equals(data));
    }
    const single = new BinaryCopyRowCounter();
    const { output } = feed(single, Array.from(data, (b) => Buffer.from([b])));
    assert.equal(single.rows, whole.rows, `${name} byte by byte`);
    assert.ok(output.equals(data));
  }
});

test('counts rows under random chunkings (fixed seed)', () => {
  const data = SAMPLES['a 6 KB vector and text per row']!;
  const sizes = bytes(400, 99);
  for (let round = 0; round < 50; round++) {
    const chunks: Buffer[] = [];
    let pos = 0;
    let i = round;
    while (pos < data.length) {
      const size = 1 + ((sizes[i++ % sizes.length] ?? 1) * (round + 1)) % 9000;
      chunks.push(data.subarray(pos, pos + size));
      pos += size;
    }
    const counter = new BinaryCopyRowCounter();
    const { error } = feed(counter, chunks);
    assert.equal(error, undefined);
    assert.equal(counter.rows, 7);
  }
});

test('calls onRows at most once per chunk with rising counts', () => {
  const data = SAMPLES['a 6 KB vector and text per row']!;
  const calls: [number, number][] = [];
  const counter = new BinaryCopyRowCounter({ onRows: (r, b) => calls.push([r, b]) });
  const chunks = [data.subarray(0, 5000), data.subarray(5000, 20000), data.subarray(20000)];
  feed(counter, chunks);
  assert.equal(calls.length, 3);
  assert.deepEqual(calls.at(-1), [7, data.length]);
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0] && calls[i]![1] > calls[i - 1]![1]);
});

test('rejects a bad signature, a stream that ends inside a field or before the trailer, and data after the trailer', async () => {
  const good = SAMPLES['one row']!;
  const cases: [string, Buffer[], RegExp][] = [
    ['bad signature', [Buffer.concat([Buffer.from('PGCOPY\n\xfe\r\n\0', 'latin1'), good.subarray(11)])], /bad signature/],
    ['ends inside a field', [good.subarray(0, good.length - 4)], /ended in the middle of a row/],
    ['ends before the trailer', [good.subarray(0, good.length - 2)], /ended before the end-of-data marker/],
    ['data after the trailer', [good, Buffer.from([0, 1])], /data after the end-of-data marker/],
    ['invalid field length', [Buffer.concat([header(), Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xfe]), TRAILER])], /invalid field length -2/],
    ['invalid field count', [Buffer.concat([header(), Buffer.from([0xff, 0xfe])])], /invalid field count -2/],
    ['empty stream', [], /ended in the middle of a row/],
  ];
  for (const [name, chunks, pattern] of cases) {
    await assert.rejects(count(chunks), (error: unknown) => {
      assert.ok(error instanceof BinaryCopyFormatError, `${name}: ${String(error)}`);
      assert.match(error.message, pattern, name);
      return true;
    });
  }
});

test('parses 100 MB of synthetic rows (throughput is logged, not asserted)', () => {
  const row = tuple([bytes(8, 1), bytes(6148, 2), bytes(2000, 3), null, bytes(16, 4), bytes(200, 5)]);
  const chunk = Buffer.concat(Array.from({ length: 64 }, () => row));
  const chunks = Math.ceil((100 * 1024 * 1024) / chunk.length);
  const counter = new BinaryCopyRowCounter();
  counter.on('data', () => undefined);
  const started = process.hrtime.bigint();
  counter.write(header());
  for (let i = 0; i < chunks; i++) counter.write(chunk);
  counter.end(TRAILER);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(counter.rows, chunks * 64);
  console.log(`binary COPY counter: ${((chunks * chunk.length) / 1048576 / seconds).toFixed(0)} MB/s over ${chunks * 64} rows`);
});

test('text counter counts one row per newline, split at every byte boundary', () => {
  const data = Buffer.from('1\tplain\n2\ttab\\there\\nnewline escaped\n3\t\\N\n4\tünïcödé ✓ 漢字\n');
  for (let split = 0; split <= data.length; split++) {
    const counter = new TextCopyRowCounter();
    const { output } = feed(counter, [data.subarray(0, split), data.subarray(split)]);
    assert.equal(counter.rows, 4);
    assert.equal(counter.bytes, data.length);
    assert.ok(output.equals(data));
  }
  const empty = new TextCopyRowCounter();
  feed(empty, []);
  assert.equal(empty.rows, 0);
});
