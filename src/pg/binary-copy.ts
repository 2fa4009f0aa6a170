// Counts rows in a binary COPY stream by walking its framing, passing every chunk through untouched.

import { Transform, type TransformCallback } from 'node:stream';

/** The stream is not valid binary COPY data; `offset` is the byte of the stream where that became clear. */
export class BinaryCopyFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
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
// Bit 16 announces an OID column outside the field count (pre-12 servers), which would shift every tuple;
// bits 0-15 are "critical" flags a reader must refuse when it does not know them.
const UNSUPPORTED_FLAGS = 0x0001ffff;

// What the parser reads next. Plain integers so the loop's switch compiles to a jump table.
const enum Expect {
  Signature,
  Flags,
  ExtensionLength,
  Extension,
  FieldCount,
  FieldLength,
  FieldData,
  Done,
}

/**
 * A pass-through Transform that counts tuples. Field payloads (a 6 KB vector, a 10 MB text) are skipped by
 * arithmetic across any number of chunks; an integer that straddles a chunk boundary is accumulated byte by
 * byte into a number, so nothing is copied or carried over but at most 4 bytes' worth of value. No per-row
 * allocation.
 */
export class BinaryCopyRowCounter extends Transform {
  private expect = Expect.Signature;
  /** Bytes still missing from the current item: a fixed-size integer or signature, or a payload to skip. */
  private need = SIGNATURE.length;
  /** The bytes of a partly read integer, big-endian. */
  private partial = 0;
  private fieldsLeft = 0;
  private rowCount = 0;
  private byteCount = 0;
  private readonly onRows: ((rows: number, bytes: number) => void) | undefined;

  constructor(options: RowCounterOptions = {}) {
    super(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark });
    this.onRows = options.onRows;
  }

  /** Complete tuples seen so far. */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes passed through so far. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The end-of-data marker was seen. */
  get finished(): boolean {
    return this.expect === Expect.Done;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.parse(chunk);
      this.byteCount += chunk.length;
      // Rows only advance with bytes, so a non-empty chunk is the whole condition.
      if (chunk.length > 0) this.onRows?.(this.rowCount, this.byteCount);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expect === Expect.Done) {
      callback();
      return;
    }
    const where =
      this.expect <= Expect.Extension
        ? 'inside the header'
        : this.expect === Expect.FieldCount && this.need === 2
          ? 'before the end-of-data marker'
          : 'in the middle of a row';
    callback(new BinaryCopyFormatError(`stream ended ${where}`, this.byteCount));
  }

  private parse(chunk: Buffer): void {
    const end = chunk.length;
    const base = this.byteCount;
    let pos = 0;
    // Locals rather than fields inside the loop: V8 keeps them in registers.
    let expect = this.expect;
    let need = this.need;
    let partial = this.partial;
    let fieldsLeft = this.fieldsLeft;
    let rows = this.rowCount;

    while (pos < end) {
      switch (expect) {
        case Expect.FieldLength: {
          let length: number;
          if (need === 4 && end - pos >= 4) {
            length = chunk.readInt32BE(pos);
            pos += 4;
          } else {
            while (need > 0 && pos < end) {
              partial = (partial << 8) | chunk[pos++]!;
              need--;
            }
            if (need > 0) break;
            length = partial; // `<<` and `|` already yield a signed 32-bit value.
            partial = 0;
          }
          if (length > 0) {
            const available = end - pos;
            if (available < length) {
              pos = end;
              need = length - available;
              expect = Expect.FieldData;
              break;
            }
            pos += length;
          } else if (length < -1) {
            throw new BinaryCopyFormatError(`invalid field length ${length}`, base + pos - 4);
          }
          // The field is complete: a payload that fit in this chunk, a zero-length value or a NULL (-1).
          if (--fieldsLeft > 0) {
            need = 4;
          } else {
            rows++;
            expect = Expect.FieldCount;
            need = 2;
          }
          break;
        }

        case Expect.FieldData: {
          const available = end - pos;
          if (available < need) {
            pos = end;
            need -= available;
            break;
          }
          pos += need;
          if (--fieldsLeft > 0) {
            expect = Expect.FieldLength;
            need = 4;
          } else {
            rows++;
            expect = Expect.FieldCount;
            need = 2;
          }
          break;
        }

        case Expect.FieldCount: {
          let count: number;
          if (need === 2 && end - pos >= 2) {
            count = chunk.readInt16BE(pos);
            pos += 2;
          } else {
            while (need > 0 && pos < end) {
              partial = (partial << 8) | chunk[pos++]!;
              need--;
            }
            if (need > 0) break;
            count = (partial << 16) >> 16; // sign-extend the int16
            partial = 0;
          }
          if (count > 0) {
            fieldsLeft = count;
            expect = Expect.FieldLength;
            need = 4;
          } else if (count === 0) {
            rows++;
            need = 2;
          } else if (count === -1) {
            expect = Expect.Done;
          } else {
            throw new BinaryCopyFormatError(`invalid field count ${count}`, base + pos - 2);
          }
          break;
        }

        case Expect.Signature: {
          while (need > 0 && pos < end) {
            if (chunk[pos] !== SIGNATURE[SIGNATURE.length - need]) {
              throw new BinaryCopyFormatError('bad signature (not binary COPY data)', base + pos);
            }
            pos++;
            need--;
          }
          if (need === 0) {
            expect = Expect.Flags;
            need = 4;
          }
          break;
        }

        case Expect.Flags:
        case Expect.ExtensionLength: {
          while (need > 0 && pos < end) {
            partial = (partial << 8) | chunk[pos++]!;
            need--;
          }
          if (need > 0) break;
          const value = partial;
          partial = 0;
          if (expect === Expect.Flags) {
            if ((value & UNSUPPORTED_FLAGS) !== 0) {
              throw new BinaryCopyFormatError(`unsupported header flags 0x${(value >>> 0).toString(16)}`, base + pos - 4);
            }
            expect = Expect.ExtensionLength;
            need = 4;
          } else {
            if (value < 0) throw new BinaryCopyFormatError(`invalid header extension length ${value}`, base + pos - 4);
            expect = value > 0 ? Expect.Extension : Expect.FieldCount;
            need = value > 0 ? value : 2;
          }
          break;
        }

        case Expect.Extension: {
          const step = Math.min(need, end - pos);
          pos += step;
          need -= step;
          if (need === 0) {
            expect = Expect.FieldCount;
            need = 2;
          }
          break;
        }

        case Expect.Done:
          throw new BinaryCopyFormatError('data after the end-of-data marker', base + pos);
      }
    }

    this.expect = expect;
    this.need = need;
    this.partial = partial;
    this.fieldsLeft = fieldsLeft;
    this.rowCount = rows;
  }
}
