// Counts rows in a text-format COPY stream (the fallback for types that cannot travel in binary).

import { Transform, type TransformCallback } from 'node:stream';
import type { RowCounterOptions } from './binary-copy.js';

const NEWLINE = 0x0a;

/** In COPY text format every row ends with one newline and newlines inside values are escaped, so rows = newlines. */
export class TextCopyRowCounter extends Transform {
  private rowCount = 0;
  private byteCount = 0;
  private readonly onRows: ((rows: number, bytes: number) => void) | undefined;

  constructor(options: RowCounterOptions = {}) {
    super(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark });
    this.onRows = options.onRows;
  }

  get rows(): number {
    return this.rowCount;
  }

  get bytes(): number {
    return this.byteCount;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let at = chunk.indexOf(NEWLINE);
    while (at !== -1) {
      this.rowCount += 1;
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    this.byteCount += chunk.length;
    this.onRows?.(this.rowCount, this.byteCount);
    callback(null, chunk);
  }
}
