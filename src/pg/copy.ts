// One COPY pipe: source COPY TO STDOUT → row counter → target COPY FROM STDIN, with back-pressure.

import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { BinaryCopyRowCounter } from './binary-copy.js';
import { quoteColumns } from './quote.js';
import { StallWatch, Stalled } from './stall-watch.js';
import { TextCopyRowCounter } from './text-copy.js';

export interface CopyTableOptions {
  source: pg.ClientBase;
  target: pg.ClientBase;
  /** Quoted, schema-qualified table name (the same on both sides). */
  table: string;
  columns: readonly string[];
  format: 'binary' | 'text';
  /** COPY … FREEZE: allowed because the table was truncated in this transaction; saves a later vacuum pass. */
  freeze: boolean;
  signal?: AbortSignal | undefined;
  onRows?: ((rows: number, bytes: number) => void) | undefined;
  /** No bytes moving for this long fails the copy with Stalled (0 or undefined: never). */
  stallTimeoutMs?: number | undefined;
}

export interface CopyTableResult {
  rows: number;
  bytes: number;
}

// Larger reads mean fewer, bigger writes to the target socket; 1 MiB keeps memory flat and the pipe full.
const STREAM_HIGH_WATER_MARK = 1 << 20;

export function copyStatements(table: string, columns: readonly string[], format: 'binary' | 'text', freeze: boolean) {
  const list = quoteColumns(columns);
  const options = [`FORMAT ${format}`, ...(freeze ? ['FREEZE'] : [])].join(', ');
  return {
    out: `COPY ${table} (${list}) TO STDOUT (FORMAT ${format})`,
    into: `COPY ${table} (${list}) FROM STDIN (${options})`,
  };
}

/** The two halves of one COPY pipe: what the source sends and what the target reads, in the same format. */
export interface CopyQueryOptions {
  source: pg.ClientBase;
  target: pg.ClientBase;
  /** `COPY … TO STDOUT (FORMAT …)` run on the source (a table or a query). */
  out: string;
  /** `COPY … FROM STDIN (FORMAT …)` run on the target. */
  into: string;
  format: 'binary' | 'text';
  signal?: AbortSignal | undefined;
  /** Rows and bytes so far; with `tags`, also the rows per tag (a live view, read it during the call). */
  onRows?: ((rows: number, bytes: number, rowsByTag: readonly number[]) => void) | undefined;
  /** No bytes moving for this long fails the copy with Stalled (0 or undefined: never). */
  stallTimeoutMs?: number | undefined;
  /** Binary only: every row's first field is an int2 tag in [0, tags), and rows are counted per tag (BinaryCopyRowCounter). */
  tags?: number | undefined;
}

export interface CopyQueryResult extends CopyTableResult {
  /** Rows per tag, when `tags` was given; else empty. */
  rowsByTag: readonly number[];
}

/**
 * Streams one COPY TO into one COPY FROM; resolves with the rows and bytes that passed, rejects on any error,
 * abort or stall. Takes the statements themselves so a query (a batch of keys, a digest per row) travels the
 * same way a whole table does.
 */
export async function copyQuery(options: CopyQueryOptions): Promise<CopyQueryResult> {
  if (options.tags !== undefined && options.format !== 'binary') throw new Error('tagged rows are counted in binary COPY only');
  const stall = new AbortController();
  // Created before the streams, so a server that never starts sending is a stall too.
  const watch = new StallWatch(options.stallTimeoutMs ?? 0, (idleMs) => {
    // A target that stopped reading leaves its write buffer full (back-pressure); otherwise the source went quiet.
    stall.abort(new Stalled(target.writableNeedDrain ? 'target' : 'source', 'data', idleMs));
  });
  let rowsByTag: readonly number[] = [];
  const onRows = (rows: number, bytes: number) => {
    watch.touch();
    options.onRows?.(rows, bytes, rowsByTag);
  };
  const counterOptions = { highWaterMark: STREAM_HIGH_WATER_MARK, onRows };
  const binary = options.format === 'binary' ? new BinaryCopyRowCounter({ ...counterOptions, tags: options.tags }) : undefined;
  rowsByTag = binary?.rowsByTag ?? rowsByTag;
  const counter = binary ?? new TextCopyRowCounter(counterOptions);
  const target = options.target.query(copyFrom(options.into, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  const source = options.source.query(copyTo(options.out, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  const signal = options.signal ? AbortSignal.any([options.signal, stall.signal]) : stall.signal;
  try {
    await pipeline(source, counter, target, { signal });
  } catch (error) {
    if (stall.signal.aborted) throw stall.signal.reason;
    throw error;
  } finally {
    watch.stop();
  }
  return { rows: counter.rows, bytes: counter.bytes, rowsByTag };
}

/** Streams one table; resolves with the rows and bytes that passed, rejects on any error, abort or stall. */
export async function copyTable(options: CopyTableOptions): Promise<CopyTableResult> {
  const { out, into } = copyStatements(options.table, options.columns, options.format, options.freeze);
  return copyQuery({ ...options, out, into });
}
