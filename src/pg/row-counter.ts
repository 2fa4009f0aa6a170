// What the two COPY row counters share: a pass-through Transform that counts rows and bytes and reports them.

import { Transform, type TransformCallback } from 'node:stream';

export interface RowCounterOptions {
  highWaterMark?: number;
  /** Called at most once per chunk, after it was parsed, when rows or bytes advanced. */
  onRows?: (rows: number, bytes: number) => void;
}

/** Subclasses count the rows a chunk completes; chunks pass through untouched, back-pressure is the stream's. */
export abstract class RowCounter extends Transform {
  protected rowCount = 0;
  protected byteCount = 0;
  private readonly onRows: ((rows: number, bytes: number) => void) | undefined;

  constructor(options: RowCounterOptions = {}) {
    super(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark });
    this.onRows = options.onRows;
  }

  /** Complete rows seen so far. */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes passed through so far. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Counts the rows `chunk` completes (byteCount is still the offset of its first byte); throws on bad data. */
  protected abstract count(chunk: Buffer): void;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.count(chunk);
      this.byteCount += chunk.length;
      // Rows only advance with bytes, so a non-empty chunk is the whole condition.
      if (chunk.length > 0) this.onRows?.(this.rowCount, this.byteCount);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }
}
