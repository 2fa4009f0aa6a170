// The tracker of one run: turns its counters into typed progress events (percent, ETA, the current step).

import type { IndexBuildSample } from '../pg/index-progress.js';
import type { IndexBuildProgress, ProgressFields, SyncEventListener, SyncPhase } from '../types.js';
import { buildFraction, itemKey, planWork, ratio, remainingSeconds, type CostOptions, type CostTable, type ItemKind, type WorkItem } from './cost-model.js';

const PROGRESS_INTERVAL_MS = 250;

/**
 * Keeps the counters of a run and turns them into events: progress at most every 250 ms per table.
 *
 * Percent is time-weighted: at every update, the work done since the last one consumes its share of what the
 * cost model says is left (share = seconds just spent / (those seconds + seconds left)). While the model holds,
 * that is exactly done / total; when it is corrected (a build runs slower than estimated), the percent slows down
 * instead of jumping back. It can only grow, and reaches 100 only through `complete()`.
 */
export class ProgressTracker {
  phase: SyncPhase = 'validation';
  table: string | undefined;
  tableRows = 0;
  tableTotal = 0;
  totalRows = 0;
  totalIndexes = 0;
  private doneRows = 0;
  private doneBytes = 0;
  private tableBytes = 0;
  private tableStarted = 0;
  private lastEmit = 0;
  private lastIndexEmit = 0;
  private indexesDone = 0;
  private comparing = false;
  private readonly started: number;

  private items = new Map<string, WorkItem>();
  private order: WorkItem[] = [];
  private planned = false;
  private shown = 0;
  private lastAdvance = 0;
  private lastPercent = 0;
  private completed = false;
  private build: IndexBuildProgress | undefined;
  private buildStarted = 0;

  /**
   * @param verifyOnly for `verify`: the whole run is comparison, so percent follows rows compared.
   * @param now the clock; an IndexProgressMonitor feeding `indexProgress` must use the same one.
   */
  constructor(
    private readonly emit: SyncEventListener,
    private readonly verifyOnly = false,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /**
   * Gives the cost model the run's work: call once the plan is known, before the copy. Without it the tracker
   * still counts, with the row-based percent above and no ETA. It may be called again when the work becomes
   * clearer (say, after the compare phase chose each table's load): what is done stays done, in the percent
   * and in what it taught about the machine's speed; what was still to do is replaced by the new tables.
   */
  setPlan(tables: readonly CostTable[], options: CostOptions = {}): void {
    const done = this.order.filter((item) => item.state === 'done');
    this.items.clear();
    this.order = [...done];
    // The percent shown so far (row-based, before any plan) is where the model's percent goes on from.
    if (!this.planned) this.shown = Math.max(this.shown, this.lastPercent / 100);
    for (const { key, item } of planWork(tables, options, this.verifyOnly)) {
      this.items.set(key, item);
      this.order.push(item);
    }
    this.totalRows = tables.reduce((sum, t) => sum + t.sourceRows, 0);
    this.totalIndexes = this.verifyOnly ? 0 : tables.reduce((sum, t) => sum + t.indexes.length, 0);
    this.planned = true;
    this.lastAdvance = this.now();
  }

  fields(): ProgressFields {
    this.advance();
    const now = this.now();
    const syncedRows = this.doneRows + (this.counting() ? this.tableRows : 0);
    const elapsed = (now - this.tableStarted) / 1000;
    return {
      phase: this.phase,
      table: this.table,
      tableRows: this.tableRows,
      tableTotal: this.tableTotal,
      syncedRows,
      totalRows: this.totalRows,
      percent: this.percent(syncedRows),
      etaSeconds: this.etaSeconds(),
      elapsedSeconds: Math.max(0, (now - this.started) / 1000),
      bytes: this.doneBytes + this.tableBytes,
      rowsPerSecond: elapsed > 0 ? Math.round(this.tableRows / elapsed) : 0,
      indexesBuilt: this.indexesDone,
      totalIndexes: this.totalIndexes,
      build: this.build ? { ...this.build, seconds: Math.max(0, (now - this.buildStarted) / 1000) } : undefined,
    };
  }

  setPhase(phase: SyncPhase): void {
    this.phase = phase;
    this.table = undefined;
    this.build = undefined;
    const now = this.now();
    // Work of earlier phases that never started was skipped (or the engine moved on): nothing of it is left.
    const earlier: Record<SyncPhase, ItemKind[]> = {
      validation: [], compare: [], copy: ['diff'], indexing: ['diff', 'copy'], verification: ['diff', 'copy', 'index'],
    };
    for (const item of this.order) {
      if (earlier[phase].includes(item.kind) && item.state !== 'done') this.finish(item, now);
    }
    if (phase === 'verification' && !this.verifyOnly) this.begin(this.items.get('count'), now);
    this.emit({ type: 'phase', ...this.fields() });
  }

  startTable(table: string, total: number, format?: 'binary' | 'text'): void {
    const now = this.now();
    this.table = table;
    this.tableRows = 0;
    this.tableBytes = 0;
    this.tableTotal = total;
    this.tableStarted = now;
    this.lastEmit = 0;
    if (this.phase === 'verification') {
      const count = this.items.get('count');
      if (count?.state === 'running') this.finish(count, now);
    }
    this.begin(this.items.get(itemKey(this.tableKind(), table)), now);
    this.emit({ type: 'table-start', format, ...this.fields() });
  }

  /** Called for every chunk by the row counter; emits only when the throttle allows. */
  tableProgress(rows: number, bytes: number): void {
    this.tableRows = rows;
    this.tableBytes = bytes;
    const item = this.currentTableItem();
    if (item) item.fraction = ratio(rows, this.tableTotal);
    const now = this.now();
    if (now - this.lastEmit >= PROGRESS_INTERVAL_MS) {
      this.lastEmit = now;
      this.emit({ type: 'progress', ...this.fields() });
    }
  }

  endTable(rows: number, bytes: number): number {
    this.tableRows = rows;
    this.tableBytes = bytes;
    const now = this.now();
    const seconds = (now - this.tableStarted) / 1000;
    const item = this.currentTableItem();
    if (item) this.finish(item, now);
    this.emit({ type: 'table-end', seconds, ...this.fields() });
    if (this.counting()) {
      this.doneRows += rows;
      this.doneBytes += bytes;
    }
    this.tableRows = 0;
    this.tableBytes = 0;
    return seconds;
  }

  /**
   * A comparison pass follows the copy: its rows show as the table's rows, while syncedRows keeps counting
   * rows copied (the history row's synced_rows must not fall back to 0 for it).
   */
  restartCounting(): void {
    this.comparing = true;
    this.tableRows = 0;
    this.tableBytes = 0;
  }

  /**
   * Call just before CREATE INDEX (or when a reading shows the build under way); the step shows the build from
   * here until `indexBuilt`.
   * @param startedAt when the build began, if earlier than now: for a build noticed through a monitor reading,
   *   that reading's `sampledAt`, so the very reading that revealed the build (taken before this call) is not
   *   dropped as older than the build.
   */
  indexStarted(table: string, index: string, startedAt?: number): void {
    const now = this.now();
    const began = startedAt !== undefined && Number.isFinite(startedAt) ? Math.min(startedAt, now) : now;
    const item = this.items.get(itemKey('index', table, index));
    this.begin(item, began);
    this.table = table;
    this.buildStarted = began;
    this.build = {
      index, table, method: item?.method ?? '',
      position: this.indexesDone + 1,
      count: Math.max(this.totalIndexes, this.indexesDone + 1),
      phase: 'starting', blocksDone: 0, blocksTotal: 0, tuplesDone: 0, tuplesTotal: 0, percent: undefined, seconds: 0,
    };
    this.lastIndexEmit = now;
    this.emit({ type: 'index-start', index, ...this.fields() });
  }

  /**
   * A reading of pg_stat_progress_create_index for the target's backend (IndexProgressMonitor's samples). Readings
   * taken before the current build started belong to an earlier one and are dropped; so is anything outside a build.
   */
  indexProgress(sample: IndexBuildSample): void {
    const build = this.build;
    if (!build || sample.sampledAt < this.buildStarted) return;
    if (sample.table !== undefined && sample.table !== build.table) return;
    const item = this.items.get(itemKey('index', build.table, build.index));
    const fraction = buildFraction(build.method, sample);
    build.phase = sample.phase.replace(/^building index:\s*/, '') || 'building index';
    build.blocksDone = sample.blocksDone;
    build.blocksTotal = sample.blocksTotal;
    build.tuplesDone = sample.tuplesDone;
    build.tuplesTotal = sample.tuplesTotal;
    if (fraction !== undefined) {
      // Within one build, its own percent only grows too (a phase change restarts the counters, not the build).
      build.percent = Math.max(build.percent ?? 0, Math.floor(fraction * 100));
      if (item) item.fraction = Math.max(item.fraction ?? 0, fraction);
    }
    const now = this.now();
    if (now - this.lastIndexEmit >= PROGRESS_INTERVAL_MS) {
      this.lastIndexEmit = now;
      this.emit({ type: 'index-progress', index: build.index, ...this.fields() });
    }
  }

  indexBuilt(table: string, index: string, seconds: number): void {
    const now = this.now();
    this.indexesDone += 1;
    this.table = table;
    const item = this.items.get(itemKey('index', table, index));
    if (item) {
      // Without indexStarted the item never ran: its time is the build's own figure.
      if (item.state === 'pending') {
        item.state = 'running';
        item.startedAt = now - seconds * 1000;
      }
      this.finish(item, now);
    }
    this.build = undefined;
    this.emit({ type: 'index', index, seconds, ...this.fields() });
  }

  /** Call after COMMIT: the run is complete, percent 100. */
  complete(): void {
    const now = this.now();
    for (const item of this.order) if (item.state !== 'done') this.finish(item, now);
    this.advance();
    this.completed = true;
    this.shown = 1;
    this.table = undefined;
    this.build = undefined;
    this.emit({ type: 'done', ...this.fields() });
  }

  // ------------------------------------------------------------------------------------------------------

  /** What a table's rows are in this phase: digests read, rows copied, or rows compared. */
  private tableKind(): ItemKind {
    if (this.phase === 'compare') return 'diff';
    return this.phase === 'verification' ? 'compare' : 'copy';
  }

  /** Whether the current table's rows are synced rows: not while diffing before the copy, nor in a checksum pass after it. */
  private counting(): boolean {
    return !this.comparing && this.phase !== 'compare';
  }

  private currentTableItem(): WorkItem | undefined {
    if (!this.table) return undefined;
    const item = this.items.get(itemKey(this.tableKind(), this.table));
    return item?.state === 'running' ? item : undefined;
  }

  private begin(item: WorkItem | undefined, now: number): void {
    if (!item || item.state !== 'pending') return;
    item.state = 'running';
    item.startedAt = now;
    item.fraction = undefined;
  }

  private finish(item: WorkItem, now: number): void {
    item.seconds = item.state === 'pending' ? 0 : Math.max(0, (now - item.startedAt) / 1000);
    // Skipped work (never started) says nothing about speed.
    if (item.state === 'pending') item.estimate = 0;
    item.state = 'done';
    item.fraction = 1;
  }

  private advance(): void {
    if (!this.planned || this.completed) return;
    const now = this.now();
    const spent = Math.max(0, (now - this.lastAdvance) / 1000);
    this.lastAdvance = now;
    const left = remainingSeconds(this.order, now);
    if (spent + left <= 0) return;
    const share = spent / (spent + left);
    if (Number.isFinite(share)) this.shown = Math.min(1, this.shown + (1 - this.shown) * share);
  }

  private etaSeconds(): number | undefined {
    if (!this.planned) return undefined;
    if (this.completed) return 0;
    const now = this.now();
    // Until a second of real work has been seen the machine's speed is a guess; say nothing rather than guess.
    const measured = this.order.reduce((sum, item) =>
      sum + (item.state === 'done' ? item.seconds : item.state === 'running' ? (now - item.startedAt) / 1000 : 0), 0);
    if (!(measured >= 1)) return undefined;
    const left = remainingSeconds(this.order, now);
    return Number.isFinite(left) ? Math.round(left) : undefined;
  }

  private percent(syncedRows: number): number {
    if (this.completed) return 100;
    let value: number;
    if (this.planned) {
      value = Math.floor(this.shown * 100);
    } else if (this.verifyOnly) {
      value = Math.floor((ratio(syncedRows, this.totalRows) ?? (this.phase === 'verification' ? 1 : 0)) * 100);
    } else {
      switch (this.phase) {
        case 'validation':
        case 'compare': value = 0; break;
        case 'copy': value = Math.floor((ratio(syncedRows, this.totalRows) ?? 1) * 90); break;
        case 'indexing': value = 90 + Math.floor((ratio(this.indexesDone, this.totalIndexes) ?? 1) * 9); break;
        case 'verification': value = 99; break;
      }
    }
    // `verify` ends at its last compared row; a sync's 100 is its commit, which only complete() reports.
    const ceiling = this.verifyOnly ? 100 : 99;
    this.lastPercent = Math.max(this.lastPercent, Math.min(ceiling, Math.max(0, value)));
    return this.lastPercent;
  }
}
