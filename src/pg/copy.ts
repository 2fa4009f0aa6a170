// One table's data path: source COPY TO STDOUT → row counter → target COPY FROM STDIN, with back-pressure.

import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { BinaryCopyRowCounter } from './binary-copy.js';
import { quoteColumns } from './quote.js';
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

/** Streams one table; resolves with the rows and bytes that passed, rejects on any error or abort. */
export async function copyTable(options: CopyTableOptions): Promise<CopyTableResult> {
  const { out, into } = copyStatements(options.table, options.columns, options.format, options.freeze);
  const counterOptions = { highWaterMark: STREAM_HIGH_WATER_MARK, ...(options.onRows ? { onRows: options.onRows } : {}) };
  const counter = options.format === 'binary' ? new BinaryCopyRowCounter(counterOptions) : new TextCopyRowCounter(counterOptions);
  const target = options.target.query(copyFrom(into, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  const source = options.source.query(copyTo(out, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  await pipeline(source, counter, target, options.signal ? { signal: options.signal } : {});
  return { rows: counter.rows, bytes: counter.bytes };
}
