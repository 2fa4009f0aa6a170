// The binary COPY row counter, fed framing built here and split at every possible byte boundary.

import assert from 'node:assert/strict';
import { Readable, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { BinaryCopyFormatError, BinaryCopyRowCounter, type BinaryCopyRowCounterOptions } from '../../src/pg/binary-copy.js';
import { mulberry32 } from '../support/random.js';

// ---- building binary COPY payloads -------------------------------------------------------------------------

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TRAILER = Buffer.from([0xff, 0xff]);

function int16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeInt16BE(value);
  return out;
}

function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}

function header(extension: Buffer = Buffer.alloc(0), flags = 0): Buffer {
  return Buffer.concat([SIGNATURE, int32(flags), int32(extension.length), extension]);
}

/** One tuple; `null` is a NULL field. */
function tuple(fields: readonly (Buffer | null)[]): Buffer {
  return Buffer.concat([int16(fields.length), ...fields.flatMap((field) => (field === null ? [int32(-1)] : [int32(field.length), field]))]);
}

function payload(rows: readonly (readonly (Buffer | null)[])[], extension?: Buffer): Buffer {
  return Buffer.concat([header(extension), ...rows.map(tuple), TRAILER]);
}

function randomBytes(length: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** A row shaped like archon_crawled_pages: 16 fields, one of them a 1536-dimension vector (~6 KB). */
function archonRow(seed: number): (Buffer | null)[] {
  return [
    randomBytes(8, seed), // bigint id
    randomBytes(16, seed + 1), // uuid
    Buffer.from(`https://example.com/docs/${seed}`),
    randomBytes(4, seed + 2),
    Buffer.from(`chunk ${seed} of a crawled page, with a few words of content`),
    null,
    Buffer.alloc(0), // empty text
    Buffer.from('{"source":"crawl","tags":["a","b"]}'),
    randomBytes(4 + 1536 * 4, seed + 3), // vector: dim, unused, then float4s
    null,
    randomBytes(8, seed + 4), // timestamptz
    randomBytes(8, seed + 5),
    Buffer.from([1]), // boolean
    null,
    randomBytes(2, seed + 6),
    Buffer.from('done'),
  ];
}

interface Sample {
  data: Buffer;
  rows: number;
  /** For a tagged stream: how many tags there are, and the rows of each. */
  byTag?: number[];
}

const SAMPLES: Record<string, Sample> = {
  'no rows': { data: payload([]), rows: 0 },
  'one row': { data: payload([[Buffer.from('hello')]]), rows: 1 },
  'a header extension': { data: payload([[Buffer.from('a')], [Buffer.from('bc')]], Buffer.from('extension area')), rows: 2 },
  'NULLs, zero-length fields and a tuple with no fields': {
    data: payload([[null, Buffer.alloc(0), Buffer.from('x')], [Buffer.from([1, 2, 3, 4]), null, null], [], [null], [Buffer.alloc(0)]]),
    rows: 5,
  },
  'large fields (16 fields with a 6 KB vector)': { data: payload([archonRow(1), archonRow(2)]), rows: 2 },
  'many small rows': {
    data: payload(Array.from({ length: 300 }, (_, i) => [int32(i), i % 3 === 0 ? null : Buffer.from(`row ${i}`), Buffer.alloc(0)])),
    rows: 300,
  },
};

// ---- feeding the counter -----------------------------------------------------------------------------------

interface Outcome {
  counter: BinaryCopyRowCounter;
  /** What came out of the counter, chunk by chunk, as received by the Writable. */
  out: Buffer[];
  error: unknown;
}

/** Pipes `chunks` through a new counter into a collecting Writable; never rejects, returns the error instead. */
async function feed(chunks: readonly Buffer[], options?: BinaryCopyRowCounterOptions): Promise<Outcome> {
  const counter = new BinaryCopyRowCounter(options);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk);
      callback();
    },
  });
  let error: unknown;
  try {
    await pipeline(Readable.from(chunks), counter, sink);
  } catch (caught) {
    error = caught;
  }
  return { counter, out, error };
}

// What a Writable hands to _transform for Buffer chunks; Node's typings only list string encodings.
const AS_BUFFER = 'buffer' as BufferEncoding;

/**
 * Calls the counter's own `_transform` and `_flush` synchronously. The exhaustive tests run tens of thousands
 * of tiny streams, where stream plumbing, not the parser, would take all the time; `feed` covers the plumbing.
 */
function drive(chunks: readonly Buffer[], options?: BinaryCopyRowCounterOptions): Outcome {
  const counter = new BinaryCopyRowCounter(options);
  const out: Buffer[] = [];
  let error: unknown;
  const callback: TransformCallback = (failure, data) => {
    if (failure) error = failure;
    else if (data !== undefined) out.push(data as Buffer);
  };
  for (const chunk of chunks) {
    counter._transform(chunk, AS_BUFFER, callback);
    if (error !== undefined) return { counter, out, error };
  }
  counter._flush(callback);
  return { counter, out, error };
}

/** Asserts the counter accepted `chunks`, counted `rows`, and passed each chunk on as the very same Buffer. */
function assertOutcome({ counter, out, error }: Outcome, chunks: readonly Buffer[], sample: Sample, label: string): void {
  assert.equal(error, undefined, label);
  assert.equal(counter.rows, sample.rows, label);
  assert.deepEqual(counter.rowsByTag, sample.byTag ?? [], label);
  assert.equal(counter.bytes, sample.data.length, label);
  assert.equal(counter.finished, true, label);
  // A Readable drops empty chunks, so only the others can be compared one to one.
  const passed = out.filter((chunk) => chunk.length > 0);
  const nonEmpty = chunks.filter((chunk) => chunk.length > 0);
  assert.equal(passed.length, nonEmpty.length, label);
  passed.forEach((chunk, i) => assert.ok(chunk === nonEmpty[i], `${label}: chunk ${i} was not passed through as-is`));
  assert.ok(Buffer.concat(passed).equals(sample.data), label);
}

function tagsOf(sample: Sample): BinaryCopyRowCounterOptions | undefined {
  return sample.byTag ? { tags: sample.byTag.length } : undefined;
}

async function assertCounts(chunks: readonly Buffer[], sample: Sample, label: string): Promise<void> {
  assertOutcome(await feed(chunks, tagsOf(sample)), chunks, sample, label);
}

function assertCountsSync(chunks: readonly Buffer[], sample: Sample, label: string): void {
  assertOutcome(drive(chunks, tagsOf(sample)), chunks, sample, label);
}

function splitAt(data: Buffer, points: readonly number[]): Buffer[] {
  const edges = [0, ...points, data.length];
  return edges.slice(1).map((end, i) => data.subarray(edges[i], end));
}

function oneBytePerChunk(data: Buffer): Buffer[] {
  return Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
}

/** Chunk sizes from 1 byte to twice the payload, weighted towards small ones so lengths straddle often. */
function randomChunks(data: Buffer, next: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < data.length; ) {
    const size = 1 + Math.floor(next() ** 3 * data.length * 2);
    chunks.push(data.subarray(pos, pos + size));
    pos += size;
  }
  return chunks;
}

async function assertRejects(chunks: readonly Buffer[], message: RegExp, offset: number, label = message.source, options?: BinaryCopyRowCounterOptions): Promise<void> {
  const { error } = await feed(chunks, options);
  assert.ok(error instanceof BinaryCopyFormatError, `${label}: expected a BinaryCopyFormatError, got ${String(error)}`);
  assert.match(error.message, message, label);
  assert.equal(error.offset, offset, `${label}: offset`);
  assert.match(error.message, new RegExp(`at byte ${offset}\\b`), label);
}

// ---- valid streams -----------------------------------------------------------------------------------------

test('counts rows of whole payloads and passes each chunk through as the same Buffer', async () => {
  for (const [name, sample] of Object.entries(SAMPLES)) await assertCounts([sample.data], sample, name);
});

test('counts rows split at every byte boundary', () => {
  for (const [name, sample] of Object.entries(SAMPLES)) {
    for (let split = 0; split <= sample.data.length; split++) {
      assertCountsSync(splitAt(sample.data, [split]), sample, `${name}, split at ${split}`);
    }
  }
});

test('counts rows split in three at every pair of byte boundaries', () => {
  for (const name of ['one row', 'a header extension', 'NULLs, zero-length fields and a tuple with no fields']) {
    const sample = SAMPLES[name]!;
    for (let first = 0; first <= sample.data.length; first++) {
      for (let second = first; second <= sample.data.length; second++) {
        assertCountsSync(splitAt(sample.data, [first, second]), sample, `${name}, split at ${first} and ${second}`);
      }
    }
  }
});

test('counts rows fed one byte per chunk', async () => {
  for (const [name, sample] of Object.entries(SAMPLES)) await assertCounts(oneBytePerChunk(sample.data), sample, `${name}, byte by byte`);
});

test('counts rows under random chunkings (fixed seed), empty chunks included', async () => {
  const next = mulberry32(20240611);
  for (const [name, sample] of Object.entries(SAMPLES)) {
    for (let round = 0; round < 200; round++) {
      const chunks = randomChunks(sample.data, next);
      if (round % 4 === 0) chunks.splice(Math.floor(next() * chunks.length), 0, Buffer.alloc(0));
      if (round % 10 === 0) await assertCounts(chunks, sample, `${name}, round ${round} (piped)`);
      else assertCountsSync(chunks, sample, `${name}, round ${round}`);
    }
  }
});

test('skips a field that spans many chunks without carrying it over', async () => {
  const huge = randomBytes(3 * 1024 * 1024 + 7, 5);
  const sample = { data: payload([[Buffer.from('id'), huge, null], [Buffer.from('next')]]), rows: 2 };
  const chunks = splitAt(sample.data, Array.from({ length: Math.floor(sample.data.length / 4093) }, (_, i) => (i + 1) * 4093));
  await assertCounts(chunks, sample, '3 MB field in 4 KB chunks');
});

test('counts rows through a Readable → counter → Writable pipeline with a small highWaterMark', async () => {
  const sample = SAMPLES['large fields (16 fields with a 6 KB vector)']!;
  const chunks = splitAt(sample.data, [3, 700, 701, 9000]);
  const counter = new BinaryCopyRowCounter({ highWaterMark: 16 });
  let received = 0;
  await pipeline(
    Readable.from(chunks),
    counter,
    new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        setImmediate(callback); // a slow target, so back-pressure actually engages
      },
    }),
  );
  assert.equal(counter.rows, 2);
  assert.equal(counter.bytes, sample.data.length);
  assert.equal(received, sample.data.length);
  assert.equal(counter.finished, true);
});

test('calls onRows once per non-empty chunk, after parsing it, with the running totals', async () => {
  const sample = SAMPLES['large fields (16 fields with a 6 KB vector)']!;
  const firstRowEnd = header().length + tuple(archonRow(1)).length;
  const calls: [number, number][] = [];
  const chunks = [sample.data.subarray(0, 10), Buffer.alloc(0), sample.data.subarray(10, firstRowEnd), sample.data.subarray(firstRowEnd)];
  const { error } = await feed(chunks, { onRows: (rows, bytes) => calls.push([rows, bytes]) });
  assert.equal(error, undefined);
  assert.deepEqual(calls, [
    [0, 10],
    [1, firstRowEnd],
    [2, sample.data.length],
  ]);
});

test('passes an error thrown by onRows down the pipeline', async () => {
  const { error } = await feed([SAMPLES['one row']!.data], {
    onRows: () => {
      throw new Error('progress sink broke');
    },
  });
  assert.ok(error instanceof Error);
  assert.equal(error.message, 'progress sink broke');
});

// ---- invalid streams ---------------------------------------------------------------------------------------

test('rejects a bad signature at the first wrong byte', async () => {
  const good = SAMPLES['one row']!.data;
  const wrong = Buffer.from(good);
  wrong[7] = 0xfe;
  await assertRejects([wrong], /bad signature/, 7);
  await assertRejects(oneBytePerChunk(wrong), /bad signature/, 7, 'byte by byte');
  await assertRejects([Buffer.from('1\thello\n2\tworld\n')], /bad signature/, 0, 'text-format data');
});

test('rejects a stream that ends before the trailer', async () => {
  const good = SAMPLES['one row']!.data;
  await assertRejects([good.subarray(0, good.length - 2)], /stream ended before the end-of-data marker/, good.length - 2);
  await assertRejects([good.subarray(0, good.length - 1)], /stream ended in the middle of a row/, good.length - 1, 'half a trailer');
});

test('rejects a stream that ends inside a field, its length or a field count', async () => {
  const sample = SAMPLES['large fields (16 fields with a 6 KB vector)']!.data;
  const firstRow = header().length;
  for (const cut of [firstRow + 1, firstRow + 2 + 3, firstRow + 2 + 4 + 5, sample.length - 100]) {
    await assertRejects([sample.subarray(0, cut)], /stream ended in the middle of a row/, cut, `cut at ${cut}`);
  }
});

test('rejects a stream that ends inside the header, or carries no bytes at all', async () => {
  const good = SAMPLES['a header extension']!.data;
  for (const cut of [0, 5, 11, 13, 18, 20]) {
    await assertRejects([good.subarray(0, cut)], /stream ended inside the header/, cut, `cut at ${cut}`);
  }
  await assertRejects([], /stream ended inside the header/, 0, 'no chunks');
});

test('rejects data after the trailer, in the same chunk or a later one', async () => {
  const good = SAMPLES['one row']!.data;
  await assertRejects([Buffer.concat([good, Buffer.from([0])])], /data after the end-of-data marker/, good.length);
  await assertRejects([good, Buffer.from([0, 1])], /data after the end-of-data marker/, good.length, 'next chunk');
});

test('rejects a field length of -2', async () => {
  const data = Buffer.concat([header(), int16(2), int32(3), Buffer.from('abc'), int32(-2), TRAILER]);
  await assertRejects([data], /invalid field length -2/, header().length + 2 + 4 + 3);
});

test('rejects a field count below -1', async () => {
  await assertRejects([Buffer.concat([header(), tuple([null]), int16(-2)])], /invalid field count -2/, header().length + 6);
});

test('rejects header flags that would change the framing (OIDs, unknown critical flags)', async () => {
  await assertRejects([Buffer.concat([header(Buffer.alloc(0), 1 << 16), TRAILER])], /unsupported header flags 0x10000/, 11);
  await assertRejects([Buffer.concat([header(Buffer.alloc(0), 1), TRAILER])], /unsupported header flags 0x1\b/, 11);
  // Bits 17-31 are non-critical by definition and must be ignored.
  const tolerated = { data: Buffer.concat([header(Buffer.alloc(0), 1 << 20), TRAILER]), rows: 0 };
  await assertCounts([tolerated.data], tolerated, 'non-critical flag');
});

test('reports the same error and offset wherever the stream is split', async () => {
  const body = Buffer.concat([tuple([Buffer.from('ok')]), int16(3), int32(1), Buffer.from('z'), int32(-7)]);
  const data = Buffer.concat([header(Buffer.from('ext')), body]);
  const offset = data.length - 4;
  for (let split = 0; split <= data.length; split++) {
    await assertRejects(splitAt(data, [split]), /invalid field length -7/, offset, `split at ${split}`);
  }
});

// ---- tagged streams: rows of several tables in one COPY, counted per table -----------------------------------

/** A row of a multi-table digest stream: (tag int2, key slots as text or NULL, digest or NULL). */
function taggedRow(tag: number, key: string, digest: Buffer | null, width = 2): (Buffer | null)[] {
  return [int16(tag), Buffer.from(key), ...Array.from({ length: width - 1 }, () => null), digest];
}

const TAGGED: Record<string, Sample> = {
  'tagged: three tables, interleaved as a Parallel Append sends them': {
    data: payload([taggedRow(0, 'a', randomBytes(16, 1)), taggedRow(2, '42', null), taggedRow(0, '', randomBytes(16, 2)),
      taggedRow(1, 'o\'brien', randomBytes(16, 3)), taggedRow(2, '43', randomBytes(16, 4))]),
    rows: 5,
    byTag: [2, 1, 2],
  },
  'tagged: rows that are only their tag, a header extension, and a tag with no rows': {
    data: payload([[int16(3)], [int16(0)], [int16(3), null], [int16(3)]], Buffer.from('ext')),
    rows: 4,
    byTag: [1, 0, 0, 3],
  },
  'tagged: 6 KB fields after the tag': {
    data: payload([[int16(1), ...archonRow(1)], [int16(0), ...archonRow(2)], [int16(1), ...archonRow(3)]]),
    rows: 3,
    byTag: [1, 2],
  },
};

test('counts rows per tag split at every byte boundary, and in three at every pair of boundaries', () => {
  for (const [name, sample] of Object.entries(TAGGED)) {
    for (let split = 0; split <= sample.data.length; split++) {
      assertCountsSync(splitAt(sample.data, [split]), sample, `${name}, split at ${split}`);
    }
  }
  for (const name of ['tagged: three tables, interleaved as a Parallel Append sends them', 'tagged: rows that are only their tag, a header extension, and a tag with no rows']) {
    const sample = TAGGED[name]!;
    for (let first = 0; first <= sample.data.length; first++) {
      for (let second = first; second <= sample.data.length; second++) {
        assertCountsSync(splitAt(sample.data, [first, second]), sample, `${name}, split at ${first} and ${second}`);
      }
    }
  }
});

test('counts rows per tag fed one byte per chunk and under random chunkings, through a pipeline', async () => {
  const next = mulberry32(20250107);
  for (const [name, sample] of Object.entries(TAGGED)) {
    await assertCounts(oneBytePerChunk(sample.data), sample, `${name}, byte by byte`);
    for (let round = 0; round < 50; round++) await assertCounts(randomChunks(sample.data, next), sample, `${name}, round ${round}`);
  }
});

test('passes the live per-tag counts to onRows', async () => {
  const sample = TAGGED['tagged: three tables, interleaved as a Parallel Append sends them']!;
  const seen: number[][] = [];
  // The first chunk ends inside the second row (22 bytes).
  const counter = new BinaryCopyRowCounter({ tags: 3, onRows: () => seen.push([...counter.rowsByTag]) });
  await pipeline(Readable.from(splitAt(sample.data, [header().length + tuple(taggedRow(0, 'a', null)).length + 20])), counter,
    new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  assert.deepEqual(seen, [[1, 0, 0], [2, 1, 2]]);
});

test('rejects a tag that is NULL, not an int2, out of range, or missing, at the same offset wherever the stream is split', async () => {
  const first = tuple(taggedRow(0, 'ok', null));
  const cases: [string, Buffer, RegExp, number][] = [
    ['a NULL tag', Buffer.concat([int16(2), int32(-1)]), /a row's tag has length -1, not 2/, 2],
    ['a 4-byte tag', Buffer.concat([int16(2), int32(4), int32(1)]), /a row's tag has length 4, not 2/, 2],
    ['a tag past the last table', Buffer.concat([int16(1), int32(2), int16(3)]), /tag 3 is out of range \[0, 3\)/, 6],
    ['a negative tag', Buffer.concat([int16(1), int32(2), int16(-1)]), /tag -1 is out of range/, 6],
    ['a row without fields', int16(0), /a row without fields has no tag/, 0],
  ];
  for (const [name, bad, message, at] of cases) {
    const data = Buffer.concat([header(Buffer.from('x')), first, bad, TRAILER]);
    const offset = header(Buffer.from('x')).length + first.length + at;
    for (let split = 0; split <= data.length; split++) {
      await assertRejects(splitAt(data, [split]), message, offset, `${name}, split at ${split}`, { tags: 3 });
    }
  }
});

// ---- throughput --------------------------------------------------------------------------------------------

test('parses 100 MB of synthetic rows (throughput is logged, never asserted)', async (t) => {
  // 64 KiB chunks cut across rows, as a socket delivers them; the block holds whole rows so it can repeat.
  const block = Buffer.concat(Array.from({ length: 64 }, (_, i) => tuple(archonRow(i))));
  const chunkSize = 64 * 1024;
  const chunks = splitAt(block, Array.from({ length: Math.floor((block.length - 1) / chunkSize) }, (_, i) => (i + 1) * chunkSize));
  const repeats = Math.ceil((100 * 1024 * 1024) / block.length);
  const total = header().length + repeats * block.length + TRAILER.length;

  // The parser alone, without stream plumbing: the Transform's own hook, called in a loop. A short warm-up
  // first, so the figure shows the optimised loop that a long table runs in, not the JIT's first pass.
  const ignore: TransformCallback = (error) => assert.ifError(error);
  const warmUp = new BinaryCopyRowCounter();
  warmUp._transform(header(), AS_BUFFER, ignore);
  for (let r = 0; r < 20; r++) for (const chunk of chunks) warmUp._transform(chunk, AS_BUFFER, ignore);
  const direct = new BinaryCopyRowCounter();
  let started = process.hrtime.bigint();
  direct._transform(header(), AS_BUFFER, ignore);
  for (let r = 0; r < repeats; r++) for (const chunk of chunks) direct._transform(chunk, AS_BUFFER, ignore);
  direct._transform(TRAILER, AS_BUFFER, ignore);
  const directSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(direct.rows, repeats * 64);
  assert.equal(direct.bytes, total);
  assert.equal(direct.finished, true);

  // The same bytes through a full pipeline, as copyTable runs it.
  function* source(): Generator<Buffer> {
    yield header();
    for (let r = 0; r < repeats; r++) yield* chunks;
    yield TRAILER;
  }
  const piped = new BinaryCopyRowCounter({ highWaterMark: 1 << 20 });
  started = process.hrtime.bigint();
  await pipeline(Readable.from(source()), piped, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  const pipedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(piped.rows, repeats * 64);
  assert.equal(piped.finished, true);

  const megabytes = total / 1048576;
  t.diagnostic(
    `binary COPY counter, ${megabytes.toFixed(0)} MB, ${repeats * 64} rows of 16 fields: ` +
      `${(megabytes / directSeconds).toFixed(0)} MB/s parsing alone, ${(megabytes / pipedSeconds).toFixed(0)} MB/s through pipeline()`,
  );
});
