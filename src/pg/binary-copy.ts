// Counts rows in a binary COPY stream by walking its framing, passing every chunk through untouched.

import { Transform, type TransformCallback } from 'node:stream';

/** The stream is not valid binary COPY data. */
export class BinaryCopyFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset} of the binary COPY stream`);
    this.name = 'BinaryCopyFormatError';
  }
}

export interface RowCounterOptions {
  highWaterMark?: number;
  /** Called at most once per chunk, after it was parsed, when rows or bytes advanced. */
  onRows?: (rows: number, bytes: number) => void;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
// Signature, int32 flags, int32 header-extension length.
const FIXED_HEADER_LENGTH = SIGNATURE.length + 8;

// What the parser expects next. Numbers, not strings: this switch runs once per field.
const enum State {
  Header,
  HeaderExtension,
  FieldCount,
  FieldLength,
  FieldData,
  Done,
}

/**
 * A pass-through Transform that counts tuples. Field payloads (a 6 KB vector, a 10 MB text) are skipped by
 * arithmetic across any number of chunks; only a length that straddles a chunk boundary is carried over,
 * in a 4-byte scratch buffer. No per-row allocation.
 */
export class BinaryCopyRowCounter extends Transform {
  private state = State.Header;
  private readonly scratch = Buffer.alloc(FIXED_HEADER_LENGTH);
  private scratchFilled = 0;
  private skip = 0;
  private fieldsLeft = 0;
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

  get finished(): boolean {
    return this.state === State.Done;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const before = this.rowCount;
    try {
      this.parse(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.byteCount += chunk.length;
    if (this.onRows && (this.rowCount !== before || chunk.length > 0)) this.onRows(this.rowCount, this.byteCount);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== State.Done) {
      const where = this.state === State.FieldCount ? 'before the end-of-data marker' : 'in the middle of a row';
      callback(new BinaryCopyFormatError(`stream ended ${where}`, this.byteCount));
      return;
    }
    callback();
  }

  /**
   * Reads `want` bytes starting at `pos` into the scratch buffer until it holds them all.
   * Returns the new position; `scratchFilled === want` tells whether the value is complete.
   */
  private gather(chunk: Buffer, pos: number, want: number): number {
    const take = Math.min(want - this.scratchFilled, chunk.length - pos);
    chunk.copy(this.scratch, this.scratchFilled, pos, pos + take);
    this.scratchFilled += take;
    return pos + take;
  }

  private parse(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length) {
      switch (this.state) {
        case State.Header: {
          pos = this.gather(chunk, pos, FIXED_HEADER_LENGTH);
          if (this.scratchFilled < FIXED_HEADER_LENGTH) return;
          if (!this.scratch.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
            throw new BinaryCopyFormatError('bad signature (not binary COPY data)', this.byteCount);
          }
          const extension = this.scratch.readInt32BE(SIGNATURE.length + 4);
          if (extension < 0) throw new BinaryCopyFormatError('negative header extension length', this.byteCount + pos - 4);
          this.scratchFilled = 0;
          this.skip = extension;
          this.state = State.HeaderExtension;
          break;
        }
        case State.HeaderExtension:
        case State.FieldData: {
          const step = Math.min(this.skip, length - pos);
          pos += step;
          this.skip -= step;
          if (this.skip > 0) return;
          if (this.state === State.HeaderExtension) this.state = State.FieldCount;
          else this.state = --this.fieldsLeft > 0 ? State.FieldLength : State.FieldCount;
          break;
        }
        case State.FieldCount: {
          let count: number;
          if (this.scratchFilled === 0 && pos + 2 <= length) {
            count = chunk.readInt16BE(pos);
            pos += 2;
          } else {
            pos = this.gather(chunk, pos, 2);
            if (this.scratchFilled < 2) return;
            count = this.scratch.readInt16BE(0);
            this.scratchFilled = 0;
          }
          if (count === -1) {
            this.state = State.Done;
          } else if (count < 0) {
            throw new BinaryCopyFormatError(`invalid field count ${count}`, this.byteCount + pos - 2);
          } else {
            this.rowCount += 1;
            this.fieldsLeft = count;
            this.state = count > 0 ? State.FieldLength : State.FieldCount;
          }
          break;
        }
        case State.FieldLength: {
          let fieldLength: number;
          if (this.scratchFilled === 0 && pos + 4 <= length) {
            fieldLength = chunk.readInt32BE(pos);
            pos += 4;
          } else {
            pos = this.gather(chunk, pos, 4);
            if (this.scratchFilled < 4) return;
            fieldLength = this.scratch.readInt32BE(0);
            this.scratchFilled = 0;
          }
          if (fieldLength === -1) {
            // NULL: no payload follows.
            this.state = --this.fieldsLeft > 0 ? State.FieldLength : State.FieldCount;
          } else if (fieldLength < 0) {
            throw new BinaryCopyFormatError(`invalid field length ${fieldLength}`, this.byteCount + pos - 4);
          } else {
            this.skip = fieldLength;
            this.state = State.FieldData;
            if (fieldLength === 0) this.state = --this.fieldsLeft > 0 ? State.FieldLength : State.FieldCount;
          }
          break;
        }
        case State.Done:
          throw new BinaryCopyFormatError('data after the end-of-data marker', this.byteCount + pos);
      }
    }
  }
}
