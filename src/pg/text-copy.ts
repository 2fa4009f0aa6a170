// Counts rows in a text-format COPY stream (the fallback for types that cannot travel in binary).

import { Transform, type TransformCallback } from 'node:stream';
import type { RowCounterOptions } from './binary-copy.js';

const NEWLINE = 0x0a;

/**
 * A pass-through Transform that counts rows. In COPY text format every row ends with exactly one newline and
 * newlines inside values are escaped (`\n`), so rows = newline bytes, found with the native `indexOf`.
 */
export class TextCopyRowCounter extends Transform {
  private rowCount = 0;
  private byteCount = 0;
  private ended = false;
  private readonly onRows: ((rows: number, bytes: number) => void) | undefined;

  constructor(options: RowCounterOptions = {}) {
    super(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark });
    this.onRows = options.onRows;
  }

  /** Rows seen so far. */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes passed through so far. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The input ended; text format has no end-of-data marker, so this is all it can say. */
  get finished(): boolean {
    return this.ended;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rows = this.rowCount;
    let at = chunk.indexOf(NEWLINE);
    while (at !== -1) {
      rows++;
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    this.rowCount = rows;
    this.byteCount += chunk.length;
    if (chunk.length > 0) {
      try {
        this.onRows?.(this.rowCount, this.byteCount);
      } catch (error) {
        callback(error as Error);
        return;
      }
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.ended = true;
    callback();
  }
}
