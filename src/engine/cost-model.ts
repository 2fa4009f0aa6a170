// The cost model: what each piece of a run's work should take (copy by table size, index builds by method and
// size, digests and checksums as a share of a copy), and how measured work recalibrates what is left.

import type { IndexBuildSample } from '../pg/index-progress.js';

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

// Costs are estimated seconds on the test harness (2 shared cores), measured with
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

export function copySeconds(table: CostTable): number {
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

export function ratio(done: number, total: number): number | undefined {
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

export type ItemKind = 'diff' | 'copy' | 'index' | 'count' | 'compare' | 'commit';

export interface WorkItem {
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

export function itemKey(kind: ItemKind, table: string, index?: string): string {
  return index === undefined ? `${kind}:${table}` : `${kind}:${table}.${index}`;
}

/** One piece of planned work, keyed by what it is about (`copy:<table>`, `index:<table>.<index>`, `count`, …). */
export interface PlannedWork {
  key: string;
  item: WorkItem;
}

/**
 * The work of a run, in the order it happens: digests of the tables an incremental run compares, then (unless
 * the run only verifies) each table's copy, its index builds and the counts, the checksum pass when asked, the commit.
 */
export function planWork(tables: readonly CostTable[], options: CostOptions, verifyOnly: boolean): PlannedWork[] {
  const work: PlannedWork[] = [];
  const add = (key: string, item: Omit<WorkItem, 'state' | 'startedAt' | 'seconds' | 'fraction'>) => {
    work.push({ key, item: { ...item, state: 'pending', startedAt: 0, seconds: 0, fraction: undefined } });
  };
  for (const table of options.diff ?? []) {
    add(itemKey('diff', table.name), { kind: 'diff', calibration: 'diff', method: '', estimate: CHECKSUM_RATIO * copySeconds(table) });
  }
  if (!verifyOnly) {
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
  if (verifyOnly || options.verify === 'checksum') {
    for (const table of tables) {
      add(itemKey('compare', table.name), {
        kind: 'compare', calibration: 'compare', method: '', estimate: CHECKSUM_RATIO * copySeconds(table),
      });
    }
  }
  if (!verifyOnly) add('commit', { kind: 'commit', calibration: 'commit', method: '', estimate: COMMIT_SECONDS });
  return work;
}

/** Measured seconds per estimated second for one kind of work, pulled towards `prior` while little is known. */
function factor(order: readonly WorkItem[], calibration: string, now: number, prior: number): number {
  let actual = 0;
  let estimated = 0;
  for (const item of order) {
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
export function remainingSeconds(order: readonly WorkItem[], now: number): number {
  // The copy's pace is the machine's; until the copy has shown it, the diff's (same kind of reading) stands in.
  const machine = factor(order, 'copy', now, factor(order, 'diff', now, 1));
  const factors = new Map<string, number>();
  const factorOf = (calibration: string) => {
    let value = factors.get(calibration);
    if (value === undefined) {
      value = calibration === 'copy' ? machine : factor(order, calibration, now, machine);
      factors.set(calibration, value);
    }
    return value;
  };
  let remaining = 0;
  for (const item of order) {
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
