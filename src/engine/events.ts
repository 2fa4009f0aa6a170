// The typed events a sync emits, and the throttle that keeps progress events to a few per second.

import type { SyncPlan } from './plan.js';

export type SyncPhase = 'validation' | 'copy' | 'indexing' | 'verification';

export interface ProgressFields {
  phase: SyncPhase;
  /** The table being worked on (unqualified), if any. */
  table: string | undefined;
  tableRows: number;
  tableTotal: number;
  syncedRows: number;
  totalRows: number;
  /** 0–100 over the whole run: copying is 0–90 by rows, index rebuilding 90–99, verification and commit 100. */
  percent: number;
  /** Bytes of COPY data that passed so far in the whole run. */
  bytes: number;
  /** Rows per second for the current table. */
  rowsPerSecond: number;
}

export type SyncEvent =
  | ({ type: 'phase' } & ProgressFields)
  | { type: 'plan'; plan: SyncPlan }
  | ({ type: 'table-start'; format?: 'binary' | 'text' | undefined } & ProgressFields)
  | ({ type: 'progress' } & ProgressFields)
  | ({ type: 'table-end'; seconds: number } & ProgressFields)
  | ({ type: 'index'; index: string; seconds: number } & ProgressFields)
  | { type: 'warning'; message: string }
  | { type: 'trigger-mode'; mode: TriggerSuppression };

/** How user triggers were kept from firing on the target. */
export type TriggerSuppression = 'replica-role' | 'disabled-triggers';

export type SyncEventListener = (event: SyncEvent) => void;

const PROGRESS_INTERVAL_MS = 250;

/** Keeps the counters of a run and turns them into events; progress events at most every 250 ms per table. */
export class ProgressTracker {
  phase: SyncPhase = 'validation';
  table: string | undefined;
  tableRows = 0;
  tableTotal = 0;
  private doneRows = 0;
  private doneBytes = 0;
  private tableBytes = 0;
  private tableStarted = 0;
  private lastEmit = 0;
  private indexesDone = 0;
  totalRows = 0;
  totalIndexes = 0;

  /**
   * @param verifyOnly for `verify`: the whole run is comparison, so percent follows rows compared.
   */
  constructor(
    private readonly emit: SyncEventListener,
    private readonly verifyOnly = false,
    private readonly now: () => number = Date.now,
  ) {}

  fields(): ProgressFields {
    const syncedRows = this.doneRows + this.tableRows;
    const elapsed = (this.now() - this.tableStarted) / 1000;
    return {
      phase: this.phase,
      table: this.table,
      tableRows: this.tableRows,
      tableTotal: this.tableTotal,
      syncedRows,
      totalRows: this.totalRows,
      percent: this.percent(syncedRows),
      bytes: this.doneBytes + this.tableBytes,
      rowsPerSecond: elapsed > 0 ? Math.round(this.tableRows / elapsed) : 0,
    };
  }

  private percent(syncedRows: number): number {
    switch (this.phase) {
      case 'validation':
        return 0;
      case 'copy':
        return Math.min(90, Math.floor((this.totalRows > 0 ? syncedRows / this.totalRows : 1) * 90));
      case 'indexing':
        return 90 + Math.floor((this.totalIndexes > 0 ? this.indexesDone / this.totalIndexes : 1) * 9);
      case 'verification':
        return this.verifyOnly ? Math.min(100, Math.floor((this.totalRows > 0 ? syncedRows / this.totalRows : 1) * 100)) : 99;
    }
  }

  setPhase(phase: SyncPhase): void {
    this.phase = phase;
    this.table = undefined;
    this.emit({ type: 'phase', ...this.fields() });
  }

  startTable(table: string, total: number, format?: 'binary' | 'text'): void {
    this.table = table;
    this.tableRows = 0;
    this.tableBytes = 0;
    this.tableTotal = total;
    this.tableStarted = this.now();
    this.lastEmit = 0;
    this.emit({ type: 'table-start', format, ...this.fields() });
  }

  /** Called for every chunk by the row counter; emits only when the throttle allows. */
  tableProgress(rows: number, bytes: number): void {
    this.tableRows = rows;
    this.tableBytes = bytes;
    const now = this.now();
    if (now - this.lastEmit >= PROGRESS_INTERVAL_MS) {
      this.lastEmit = now;
      this.emit({ type: 'progress', ...this.fields() });
    }
  }

  endTable(rows: number, bytes: number): number {
    this.tableRows = rows;
    this.tableBytes = bytes;
    const seconds = (this.now() - this.tableStarted) / 1000;
    this.emit({ type: 'table-end', seconds, ...this.fields() });
    this.doneRows += rows;
    this.doneBytes += bytes;
    this.tableRows = 0;
    this.tableBytes = 0;
    return seconds;
  }

  /** Row counters restart for a comparison pass after the copy: syncedRows then counts rows compared. */
  restartCounting(): void {
    this.doneRows = 0;
    this.doneBytes = 0;
    this.tableRows = 0;
    this.tableBytes = 0;
  }

  indexBuilt(table: string, index: string, seconds: number): void {
    this.indexesDone += 1;
    this.table = table;
    this.emit({ type: 'index', index, seconds, ...this.fields() });
  }
}
