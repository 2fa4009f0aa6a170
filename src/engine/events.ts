// The typed events a sync emits, and the tracker that turns the run's counters into them (percent, ETA, the current step).

import type { IndexBuildSample } from '../pg/index-progress.js';
import type { SyncPlan } from './plan.js';

/** `compare`: per-row digests of the tables an incremental run considers, before anything is written. */
export type SyncPhase = 'validation' | 'compare' | 'copy' | 'indexing' | 'verification';

/** One index build as it goes, from pg_stat_progress_create_index when a monitor watches the target. */
export interface IndexBuildProgress {
  index: string;
  table: string;
  /** Access method: btree, gin, gist, hnsw, ivfflat, … */
  method: string;
  /** 1-based position among the run's index builds, and how many there are. */
  position: number;
  count: number;
  /**
   * The server's phase without its `building index: ` prefix (`scanning table`, `loading tuples`,
   * `performing k-means`, …); `starting` until the first reading arrives.
   */
  phase: string;
  blocksDone: number;
  blocksTotal: number;
  tuplesDone: number;
  tuplesTotal: number;
  /** This build's own progress, 0–100, when its phase and counters allow an estimate. */
  percent: number | undefined;
  /** Seconds since the build started. */
  seconds: number;
}

export interface ProgressFields {
  phase: SyncPhase;
  /** The table being worked on (unqualified), if any. */
  table: string | undefined;
  /** Rows of the current table copied (or compared) so far, and its row count. */
  tableRows: number;
  tableTotal: number;
  /** Rows copied in the whole run (rows compared, for `verify`). */
  syncedRows: number;
  totalRows: number;
  /**
   * 0–100 over the whole run, never decreasing; 100 only once the run is complete. With a plan (`setPlan`) it
   * follows the estimated cost of the work (copy by table size, index builds by method and size, verification),
   * recalibrated by what was measured; without one, copying is 0–90 by rows and index builds 90–99.
   */
  percent: number;
  /** Seconds left by the cost model; undefined until enough has been measured to say. */
  etaSeconds: number | undefined;
  /** Seconds since the tracker was made. */
  elapsedSeconds: number;
  /** Bytes of COPY data that passed so far in the whole run. */
  bytes: number;
  /** Rows per second for the current table. */
  rowsPerSecond: number;
  /** Index builds finished so far, and how many the run has. */
  indexesBuilt: number;
  totalIndexes: number;
  /** The index being built, while one is. */
  build: IndexBuildProgress | undefined;
}

export type SyncEvent =
  | ({ type: 'phase' } & ProgressFields)
  | { type: 'plan'; plan: SyncPlan }
  | ({ type: 'table-start'; format?: 'binary' | 'text' | undefined } & ProgressFields)
  | ({ type: 'progress' } & ProgressFields)
  | ({ type: 'table-end'; seconds: number } & ProgressFields)
  | ({ type: 'index-start'; index: string } & ProgressFields)
  | ({ type: 'index-progress'; index: string } & ProgressFields)
  | ({ type: 'index'; index: string; seconds: number } & ProgressFields)
  | ({ type: 'done' } & ProgressFields)
  | { type: 'warning'; message: string }
  | { type: 'trigger-mode'; mode: TriggerSuppression };

/** How user triggers were kept from firing on the target. */
export type TriggerSuppression = 'replica-role' | 'disabled-triggers';

export type SyncEventListener = (event: SyncEvent) => void;

/** What the cost model needs of a table: TablePlan fits. */
export interface CostTable {
  name: string;
  sourceRows: number;
  /** pg_table_size of the source table (heap and TOAST), the copy's weight; rows × 1 kB when unknown. */
  sourceBytes?: number | undefined;
  indexes: readonly { name: string; method: string; definition?: string | undefined }[];
}

export interface CostOptions {
  /** `checksum` adds a comparison pass over every row (about half a copy's cost). */
  verify?: 'count' | 'checksum' | undefined;
  /**
   * Tables whose per-row digests the `compare` phase reads on both sides before anything is written (an
   * incremental run's candidates); each costs about what a checksum pass over it does.
   */
  diff?: readonly CostTable[] | undefined;
}

const PROGRESS_INTERVAL_MS = 250;

// ---------------------------------------------------------------------------------------------------------
// The cost model. Costs are estimated seconds on the test harness (2 shared cores), measured with
// `node dist/bench/index-weights.js <scale>`: a real sync of generated Archon data, each table's copy time
// against its pg_table_size and each index build's time against the copy time of its table. Only the ratios
// matter: the first seconds of the copy calibrate the machine, and finished builds calibrate their kind.

/** Copy: 0.103 s per MiB of source table at scale 0.2 (113 MB), 0.112 at scale 1 (559 MB); mostly the vectors' TOAST. */
const COPY_SECONDS_PER_BYTE = 0.1 / 1048576;
/** Rows × this stands in for pg_table_size when the plan has none. */
const BYTES_PER_ROW_UNKNOWN = 1024;
/** Per table: a COPY round trip each way, TRUNCATE's share, the row counter's start. */
const TABLE_OVERHEAD_SECONDS = 0.01;

/**
 * Index build ≈ fixed + ratio × (copy seconds of its table). Measured (build s / copy s of the table, at scale
 * 0.2 and 1): HNSW 0.81 and 0.50 (m 16, ef_construction 64, 1536-d; when the graph outgrows
 * maintenance_work_mem the build runs several times slower, which only its live progress reveals), trigram
 * GIN 0.72 and 0.43, ivfflat 0.05 and 0.01 plus ~0.15 s of k-means for 100 lists even on a small table, jsonb
 * and tsvector GIN 0.02–0.03, GiST 0.08, B-tree 0.003–0.015 plus up to 0.1 s of parallel-worker start on a big
 * table. The weights are the middle of the two.
 */
const INDEX_COST: Readonly<Record<string, { fixed: number; ratio: number }>> = {
  hnsw: { fixed: 0.02, ratio: 0.6 },
  gin_trgm: { fixed: 0.01, ratio: 0.55 },
  ivfflat: { fixed: 0.15, ratio: 0.02 },
  gin: { fixed: 0.01, ratio: 0.02 },
  gist: { fixed: 0.01, ratio: 0.1 },
  btree: { fixed: 0.02, ratio: 0.005 },
};
const OTHER_INDEX_COST = { fixed: 0.01, ratio: 0.05 };

/** Verification: count(*) per table is a sequential scan (0.002 of the copy); checksums read and hash every row on both sides (0.57). */
const COUNT_RATIO = 0.002;
const CHECKSUM_RATIO = 0.57;
const COMMIT_SECONDS = 0.05;

/**
 * Calibration learns only from work estimated at 0.1 s or more: a tiny table's time is round trips, not speed.
 * The prior (what we assumed, worth 0.02 s of estimate) only keeps a first measurement from being taken alone.
 */
const CALIBRATION_MIN_ESTIMATE = 0.1;
const CALIBRATION_PRIOR_SECONDS = 0.02;

export function indexCostKind(method: string, definition = ''): string {
  if (method === 'gin' && definition.includes('gin_trgm_ops')) return 'gin_trgm';
  return method;
}

function copySeconds(table: CostTable): number {
  const bytes = table.sourceBytes !== undefined && Number.isFinite(table.sourceBytes) && table.sourceBytes > 0
    ? table.sourceBytes
    : Math.max(0, table.sourceRows) * BYTES_PER_ROW_UNKNOWN;
  return TABLE_OVERHEAD_SECONDS + bytes * COPY_SECONDS_PER_BYTE;
}

export function estimateIndexSeconds(table: CostTable, method: string, definition = ''): number {
  const cost = INDEX_COST[indexCostKind(method, definition)] ?? OTHER_INDEX_COST;
  return cost.fixed + cost.ratio * copySeconds(table);
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function ratio(done: number, total: number): number | undefined {
  return total > 0 && Number.isFinite(done) ? clamp01(done / total) : undefined;
}

/**
 * How far one index build is (0–1), from its phase and counters; undefined when they say nothing. The phases and
 * their shares follow what each access method does: pgvector's HNSW inserts every tuple into the graph while it
 * scans the table (so blocks scanned is the build), ivfflat samples for k-means, then assigns and loads tuples,
 * B-tree scans, sorts and loads; GIN and others scan and then write what they collected.
 */
export function buildFraction(method: string, sample: Pick<IndexBuildSample, 'phase' | 'blocksDone' | 'blocksTotal' | 'tuplesDone' | 'tuplesTotal'>): number | undefined {
  const phase = sample.phase;
  const blocks = ratio(sample.blocksDone, sample.blocksTotal);
  const tuples = ratio(sample.tuplesDone, sample.tuplesTotal);
  if (phase.includes('initializing')) return 0;
  if (method === 'hnsw') {
    if (phase.includes('loading tuples')) return blocks === undefined ? undefined : 0.98 * blocks;
  } else if (method === 'ivfflat') {
    if (phase.includes('k-means')) return 0.1;
    if (phase.includes('assigning')) return 0.4 + 0.3 * (blocks ?? 0);
    if (phase.includes('loading')) return 0.7 + 0.28 * (tuples ?? 0);
  } else if (method === 'btree') {
    if (phase.includes('scanning table')) return 0.5 * (blocks ?? 0);
    if (phase.includes('sorting')) return 0.6;
    if (phase.includes('loading tuples')) return 0.7 + 0.28 * (tuples ?? 0);
  }
  if (blocks !== undefined) return 0.9 * blocks;
  if (tuples !== undefined) return 0.9 * tuples;
  return undefined;
}

type ItemKind = 'diff' | 'copy' | 'index' | 'count' | 'compare' | 'commit';

interface WorkItem {
  kind: ItemKind;
  /** Which calibration applies: 'diff', 'copy', 'compare', 'count', 'commit', or 'index:<kind>'. */
  calibration: string;
  method: string;
  estimate: number;
  state: 'pending' | 'running' | 'done';
  startedAt: number;
  seconds: number;
  /** Measured progress of the running item (rows, or the index build's counters), when known. */
  fraction: number | undefined;
}

function itemKey(kind: ItemKind, table: string, index?: string): string {
  return index === undefined ? `${kind}:${table}` : `${kind}:${table}.${index}`;
}

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
    const add = (key: string, item: Omit<WorkItem, 'state' | 'startedAt' | 'seconds' | 'fraction'>) => {
      const full: WorkItem = { ...item, state: 'pending', startedAt: 0, seconds: 0, fraction: undefined };
      this.items.set(key, full);
      this.order.push(full);
    };
    for (const table of options.diff ?? []) {
      add(itemKey('diff', table.name), { kind: 'diff', calibration: 'diff', method: '', estimate: CHECKSUM_RATIO * copySeconds(table) });
    }
    if (!this.verifyOnly) {
      for (const table of tables) {
        add(itemKey('copy', table.name), { kind: 'copy', calibration: 'copy', method: '', estimate: copySeconds(table) });
      }
      for (const table of tables) {
        for (const index of table.indexes) {
          add(itemKey('index', table.name, index.name), {
            kind: 'index', calibration: `index:${indexCostKind(index.method, index.definition)}`, method: index.method, estimate: estimateIndexSeconds(table, index.method, index.definition),
          });
        }
      }
      add('count', {
        kind: 'count', calibration: 'count', method: '',
        estimate: tables.reduce((sum, t) => sum + TABLE_OVERHEAD_SECONDS + COUNT_RATIO * copySeconds(t), 0),
      });
    }
    if (this.verifyOnly || options.verify === 'checksum') {
      for (const table of tables) {
        add(itemKey('compare', table.name), {
          kind: 'compare', calibration: 'compare', method: '', estimate: CHECKSUM_RATIO * copySeconds(table),
        });
      }
    }
    if (!this.verifyOnly) add('commit', { kind: 'commit', calibration: 'commit', method: '', estimate: COMMIT_SECONDS });
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

  /** Measured seconds per estimated second for one kind of work, pulled towards `prior` while little is known. */
  private factor(calibration: string, now: number, prior: number): number {
    let actual = 0;
    let estimated = 0;
    for (const item of this.order) {
      if (item.calibration !== calibration || item.estimate < CALIBRATION_MIN_ESTIMATE) continue;
      if (item.state === 'done' && item.estimate > 0) {
        actual += item.seconds;
        estimated += item.estimate;
      } else if (item.state === 'running' && item.fraction !== undefined && item.fraction > 0) {
        actual += (now - item.startedAt) / 1000;
        estimated += item.estimate * item.fraction;
      }
    }
    const value = (actual + CALIBRATION_PRIOR_SECONDS * prior) / (estimated + CALIBRATION_PRIOR_SECONDS);
    return Number.isFinite(value) && value > 0 ? value : prior;
  }

  /** Seconds of work left by the model, as of `now`. */
  private remainingSeconds(now: number): number {
    // The copy's pace is the machine's; until the copy has shown it, the diff's (same kind of reading) stands in.
    const machine = this.factor('copy', now, this.factor('diff', now, 1));
    const factors = new Map<string, number>();
    const factorOf = (calibration: string) => {
      let value = factors.get(calibration);
      if (value === undefined) {
        value = calibration === 'copy' ? machine : this.factor(calibration, now, machine);
        factors.set(calibration, value);
      }
      return value;
    };
    let remaining = 0;
    for (const item of this.order) {
      if (item.state === 'done') continue;
      const expected = item.estimate * factorOf(item.calibration);
      if (item.state === 'pending') {
        remaining += expected;
        continue;
      }
      const elapsed = Math.max(0, (now - item.startedAt) / 1000);
      const f = item.fraction;
      if (f === undefined || f <= 0) {
        // Nothing measured yet: the estimate, and once past it, a fifth of the time already spent.
        remaining += Math.max(expected - elapsed, 0.2 * elapsed);
        continue;
      }
      const model = expected * (1 - Math.min(1, f));
      const projected = (elapsed * (1 - Math.min(1, f))) / f;
      // The item's own pace takes over from the estimate as its progress becomes meaningful (fully from 20 %).
      const trust = clamp01((f - 0.02) / 0.18);
      remaining += (1 - trust) * model + trust * projected;
    }
    return Number.isFinite(remaining) && remaining > 0 ? remaining : 0;
  }

  private advance(): void {
    if (!this.planned || this.completed) return;
    const now = this.now();
    const spent = Math.max(0, (now - this.lastAdvance) / 1000);
    this.lastAdvance = now;
    const left = this.remainingSeconds(now);
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
    const left = this.remainingSeconds(now);
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
