// The digest stream of many tables as the progress tracker's per-table steps: the tables interleave in the one
// stream (a Parallel Append may mix them), so the step shown is the table whose rows arrived last.

import type { TablePlan } from '../types.js';
import type { ProgressTracker } from './progress-tracker.js';

/** What the step of one streamed table shows. */
export type StreamedTable = Pick<TablePlan, 'schema' | 'name' | 'sourceRows'> & { format?: 'binary' | 'text' | undefined };

export class StreamProgress {
  private current = -1;
  private seen: readonly number[] = [];
  private readonly done = new Set<number>();

  /** @param onTable the table being streamed (`schema.name`), for a failure's one line; undefined once done. */
  constructor(private readonly tracker: ProgressTracker, private readonly tables: readonly StreamedTable[], private readonly onTable: (table: string | undefined) => void) {}

  /** Rows per table so far (tables' order) and bytes in all, as the tagged counter reports them. */
  streaming(rowsByTable: readonly number[], bytes: number): void {
    const moved = rowsByTable.findIndex((rows, tag) => rows !== (this.seen[tag] ?? 0));
    this.seen = [...rowsByTable];
    if (moved >= 0 && moved !== this.current) this.switchTo(moved);
    if (this.current >= 0) this.tracker.tableProgress(rowsByTable[this.current] ?? 0, bytes);
  }

  /** The stream ended: every table's step ends (those that sent no row too), each once. */
  ended(rowsByTable: readonly number[], bytes: number): void {
    this.endCurrent(bytes);
    this.tables.forEach((table, tag) => {
      if (this.done.has(tag)) return;
      this.tracker.startTable(table.name, table.sourceRows, table.format);
      this.tracker.endTable(rowsByTable[tag] ?? 0, 0);
      this.done.add(tag);
    });
    this.onTable(undefined);
  }

  private switchTo(tag: number): void {
    this.endCurrent(0);
    const table = this.tables[tag];
    if (!table || this.done.has(tag)) return;
    this.current = tag;
    this.onTable(`${table.schema}.${table.name}`);
    this.tracker.startTable(table.name, table.sourceRows, table.format);
  }

  /** A table the stream moved away from ends its step; should it come back, no step shows until another table starts. */
  private endCurrent(bytes: number): void {
    if (this.current < 0) return;
    this.tracker.endTable(this.seen[this.current] ?? 0, bytes);
    this.done.add(this.current);
    this.current = -1;
  }
}
