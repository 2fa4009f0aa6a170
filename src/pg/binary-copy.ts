// Counts rows in a binary COPY stream by walking its framing, passing every chunk through untouched.

import type { TransformCallback } from 'node:stream';
import { RowCounter, type RowCounterOptions } from './row-counter.js';

export type { RowCounterOptions } from './row-counter.js';

export interface BinaryCopyRowCounterOptions extends RowCounterOptions {
  /**
   * When set, every row's first field is a tag: a non-NULL int2 in [0, tags), say which table a row of a
   * UNION ALL belongs to. Rows are also counted per tag (rowsByTag). The rows of a UNION ALL may interleave
   * (a Parallel Append), so the count does not assume any order.
   */
  tags?: number | undefined;
}

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
  TagLength,
  Tag,
  Done,
}

/**
 * A pass-through Transform that counts tuples. Field payloads (a 6 KB vector, a 10 MB text) are skipped by
 * arithmetic across any number of chunks; an integer that straddles a chunk boundary is accumulated byte by
 * byte into a number, so nothing is copied or carried over but at most 4 bytes' worth of value. No per-row
 * allocation.
 */
export class BinaryCopyRowCounter extends RowCounter {
  private expect = Expect.Signature;
  /** Bytes still missing from the current item: a fixed-size integer or signature, or a payload to skip. */
  private need = SIGNATURE.length;
  /** The bytes of a partly read integer, big-endian. */
  private partial = 0;
  private fieldsLeft = 0;
  /** With tags: the current row's tag, and complete rows per tag (allocated once). */
  private tag = 0;
  private readonly tagRows: number[];

  constructor(options: BinaryCopyRowCounterOptions = {}) {
    super(options);
    this.tagRows = new Array<number>(Math.max(0, options.tags ?? 0)).fill(0);
  }

  /** Complete rows per tag so far (empty without tags); a live view, not a copy. */
  get rowsByTag(): readonly number[] {
    return this.tagRows;
  }

  /** The end-of-data marker was seen. */
  get finished(): boolean {
    return this.expect === Expect.Done;
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

  protected count(chunk: Buffer): void {
    const end = chunk.length;
    const base = this.byteCount;
    let pos = 0;
    // Locals rather than fields inside the loop: V8 keeps them in registers.
    let expect = this.expect;
    let need = this.need;
    let partial = this.partial;
    let fieldsLeft = this.fieldsLeft;
    let rows = this.rowCount;
    let tag = this.tag;
    const tagRows = this.tagRows;
    const tagged = tagRows.length > 0;

    while (pos < end) {
      if (expect === Expect.FieldData || expect === Expect.Extension) {
        // A payload: skipped by arithmetic, however many chunks it spans.
        const step = Math.min(need, end - pos);
        pos += step;
        need -= step;
        if (need > 0) break;
        if (expect === Expect.Extension) {
          expect = Expect.FieldCount;
          need = 2;
        } else if (--fieldsLeft > 0) {
          expect = Expect.FieldLength;
          need = 4;
        } else {
          rows++;
          if (tagged) tagRows[tag]!++;
          expect = Expect.FieldCount;
          need = 2;
        }
        continue;
      }
      if (expect === Expect.Signature) {
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
        continue;
      }
      if (expect === Expect.Done) throw new BinaryCopyFormatError('data after the end-of-data marker', base + pos);

      // Every other state reads one big-endian integer: the field count or a tag (int16), or a length or flags (int32).
      const size = expect === Expect.FieldCount || expect === Expect.Tag ? 2 : 4;
      let value: number;
      if (need === size && end - pos >= size) {
        value = size === 2 ? chunk.readInt16BE(pos) : chunk.readInt32BE(pos);
        pos += size;
      } else {
        // The integer straddles chunks: accumulate its bytes into a number, nothing is copied or carried over.
        while (need > 0 && pos < end) {
          partial = (partial << 8) | chunk[pos++]!;
          need--;
        }
        if (need > 0) break;
        // `<<` and `|` already yield a signed 32-bit value; an int16 needs its sign extended.
        value = size === 2 ? (partial << 16) >> 16 : partial;
        partial = 0;
      }
      const at = base + pos - size;

      switch (expect) {
        case Expect.FieldLength:
          if (value > 0) {
            expect = Expect.FieldData;
            need = value;
          } else if (value < -1) {
            throw new BinaryCopyFormatError(`invalid field length ${value}`, at);
          } else if (--fieldsLeft > 0) {
            // A zero-length value or a NULL (-1): the field is complete.
            need = 4;
          } else {
            rows++;
            if (tagged) tagRows[tag]!++;
            expect = Expect.FieldCount;
            need = 2;
          }
          break;

        case Expect.TagLength:
          if (value !== 2) throw new BinaryCopyFormatError(`a row's tag has length ${value}, not 2 (an int2)`, at);
          expect = Expect.Tag;
          need = 2;
          break;

        case Expect.Tag:
          if (value < 0 || value >= tagRows.length) throw new BinaryCopyFormatError(`tag ${value} is out of range [0, ${tagRows.length})`, at);
          tag = value;
          if (--fieldsLeft > 0) {
            expect = Expect.FieldLength;
            need = 4;
          } else {
            rows++;
            tagRows[tag]!++;
            expect = Expect.FieldCount;
            need = 2;
          }
          break;

        case Expect.FieldCount:
          if (value > 0) {
            fieldsLeft = value;
            expect = tagged ? Expect.TagLength : Expect.FieldLength;
            need = 4;
          } else if (value === 0) {
            if (tagged) throw new BinaryCopyFormatError('a row without fields has no tag', at);
            rows++;
            need = 2;
          } else if (value === -1) {
            expect = Expect.Done;
          } else {
            throw new BinaryCopyFormatError(`invalid field count ${value}`, at);
          }
          break;

        case Expect.Flags:
          if ((value & UNSUPPORTED_FLAGS) !== 0) {
            throw new BinaryCopyFormatError(`unsupported header flags 0x${(value >>> 0).toString(16)}`, at);
          }
          expect = Expect.ExtensionLength;
          need = 4;
          break;

        case Expect.ExtensionLength:
          if (value < 0) throw new BinaryCopyFormatError(`invalid header extension length ${value}`, at);
          expect = value > 0 ? Expect.Extension : Expect.FieldCount;
          need = value > 0 ? value : 2;
          break;
      }
    }

    this.expect = expect;
    this.need = need;
    this.partial = partial;
    this.fieldsLeft = fieldsLeft;
    this.rowCount = rows;
    this.tag = tag;
  }
}
