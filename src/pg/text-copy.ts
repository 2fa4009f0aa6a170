// Counts rows in a text-format COPY stream (the fallback for types that cannot travel in binary).

import type { TransformCallback } from 'node:stream';
import { RowCounter } from './row-counter.js';

const NEWLINE = 0x0a;

/**
 * A pass-through Transform that counts rows. In COPY text format every row ends with exactly one newline and
 * newlines inside values are escaped (`\n`), so rows = newline bytes, found with the native `indexOf`.
 */
export class TextCopyRowCounter extends RowCounter {
  private ended = false;

  /** The input ended; text format has no end-of-data marker, so this is all it can say. */
  get finished(): boolean {
    return this.ended;
  }

  protected count(chunk: Buffer): void {
    let rows = this.rowCount;
    let at = chunk.indexOf(NEWLINE);
    while (at !== -1) {
      rows++;
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    this.rowCount = rows;
  }

  override _flush(callback: TransformCallback): void {
    this.ended = true;
    callback();
  }
}
