// The public types of archon-sync in one place: options, results, plans, events. src/index.ts exports them from here.
// Catalog facts keep their definitions beside the statements that read them (src/pg/) and are re-exported here.

import type { Phrase, Wording } from './advice.js';
import type { ForeignKeyInfo, IndexInfo, SequenceInfo, ServerInfo, TriggerInfo } from './pg/catalog.js';

export type { Advice, AdvisedOption, Phrase, Wording } from './advice.js';
export type { ArchonSyncErrorCode, FailureCause } from './errors.js';

export type { ColumnInfo, ForeignKeyInfo, IndexInfo, PoolerGuess, SequenceInfo, ServerInfo, TriggerInfo, TriggerMode } from './pg/catalog.js';
export type { Endpoint } from './pg/connect.js';
import type { HistoryRow as RecordedRun } from './pg/history-statements.js';


/** A recorded run, and whether a backup on this machine can undo it. */
export type HistoryRow = RecordedRun & UndoMarks;

// ---------------------------------------------------------------------------------------------------------
// Options
export interface ConnectionOptions {
  /** Source database URI (libpq style; sslmode and friends are honoured). */
  source: string;
  /** Target database URI. */
  target: string;
  /** Tables to copy (unqualified names in `schema`); default: the 17 Archon tables. */
  tables?: readonly string[] | undefined;
  /** Schema of the tables; default `public`. */
  schema?: string | undefined;
  /** Connect timeout unless the URI sets connect_timeout; default 10 s. */
  connectTimeoutMs?: number | undefined;
  /** Aborting cancels the server-side work, rolls the target back and rejects with CancelledError. */
  signal?: AbortSignal | undefined;
  /** How long to wait for each table lock (target tables, and source tables before the snapshot); default 10 s. */
  lockTimeoutMs?: number | undefined;
}

export type SyncMode = 'auto' | 'full' | 'incremental';

export interface HistoryOptions {
  /** Defaults to `sync_YYYYMMDD_HHMMSS` (UTC) of the start. */
  syncId?: string | undefined;
  direction: 'local-to-remote' | 'remote-to-local';
  triggeredBy?: string | undefined;
  /** How the two sides are named in the row: `local` / `remote`. */
  sourceDb: string;
  targetDb: string;
}

export interface SyncOptions extends ConnectionOptions {
  /** Receives typed events (phases, table start/end, throttled progress, index rebuilds, warnings), synchronously. */
  onEvent?: SyncEventListener | undefined;
  /** maintenance_work_mem for the index rebuild (SET LOCAL); default '256MB'. */
  maintenanceWorkMem?: string | undefined;
  /** max_parallel_maintenance_workers for the index rebuild (SET LOCAL); default 2. */
  maxParallelMaintenanceWorkers?: number | undefined;
  /** `auto` (default) uses session_replication_role when allowed, else disables user triggers by name. */
  triggerSuppression?: 'auto' | 'disable-triggers' | undefined;
  /**
   * Record the run in the target's archon_sync_history; default: not recorded. A recorded run also leaves the
   * watermark that lets the next run between the same databases hash only rows written since.
   */
  history?: HistoryOptions | false | undefined;
  /**
   * `count` (default): per table, source snapshot rows = rows streamed = target rows. `checksum` also compares
   * every row (primary key → md5 of its columns, computed on both servers) before commit.
   */
  verify?: 'count' | 'checksum' | undefined;
  /** How many example keys a checksum mismatch reports per kind; default 10. */
  sampleLimit?: number | undefined;
  /**
   * A copy in which no bytes move, or a server that does not answer a probe, for this long ends the run
   * (a frozen server, a stuck pooler, a dead network path); default 60 s. Long index builds do not count.
   */
  stallTimeoutMs?: number | undefined;
  /**
   * A COMMIT that has not returned after this long (waiting for a synchronous standby, holding every lock) is
   * cancelled and reported as committed on the target but not confirmed by the standby (CommitUnconfirmedError);
   * default 60 s, 0: wait forever.
   */
  commitTimeoutMs?: number | undefined;
  /**
   * `full` empties and reloads every table; `incremental` compares per-row digests and moves only the rows that
   * differ (tables with a primary key, when the replica role is allowed); `auto` (default) chooses per table:
   * full for an empty target table or one without a primary key, or when more than `fullCopyShare` of its rows
   * changed, incremental otherwise. Every mode ends in the same state.
   */
  mode?: SyncMode | undefined;
  /** With mode `auto`, the share of changed rows above which a table is copied in full; default 0.35 (the crossover measured in docs/BENCHMARKS.md). */
  fullCopyShare?: number | undefined;
  /**
   * Called once, after the plan is read and every table's load decided (its digests compared) and before the
   * first write to the target's tables, with what the run is about to do. Resolve `false` and the run ends with
   * CancelledError, nothing changed. The tables being compared stay locked against writers while it waits.
   */
  confirm?: ConfirmHook | undefined;
  /**
   * How messages name what a caller can change; default: the library's option names. A front end passes its
   * own (the CLI its flags), so the history row's error_message reads like the error it shows.
   */
  wording?: Wording | undefined;
  /**
   * Keep the old versions of the rows the run deletes or overwrites on this machine, so undo() can put the
   * target back as it was; default on, in ~/.local/state/archon-sync/backups (see BackupOptions). `false`: keep nothing.
   */
  backup?: BackupOptions | false | undefined;
  /**
   * The deletion guard: a run that would delete more than this share of any table's target rows, or empty a
   * table that has rows, is refused before any write (ValidationError, failure `delete-guard`); default 0.5, 1 turns
   * it off. A table empty on the target is never refused. What counts as deleted: see TablePreview.guardDeletes.
   */
  maxDeleteShare?: number | undefined;
  /**
   * Rows the target itself inserted, updated or deleted since the last committed run (told apart by its
   * watermark) would be overwritten: `ask` shows them to `confirm` (the default when there is one), `refuse` fails
   * before any write (ValidationError, failure `target-edits`; the default without `confirm`), `overwrite` goes on.
   */
  targetChanges?: 'ask' | 'refuse' | 'overwrite' | undefined;
}

/**
 * Receives the plan with every table's decision (`plan.preview`); resolves whether the run may go on. `signal`
 * aborts when the run cannot go on anyway while it waits (the caller aborted, a server was lost or stalled).
 */
export type ConfirmHook = (plan: PreviewedPlan, context: { signal: AbortSignal }) => boolean | Promise<boolean>;

/** The options plan() takes: a sync's, without its mode (`preview` says which), its confirmation or its checks. */
export interface PlanOptions extends Omit<SyncOptions, 'mode' | 'confirm' | 'verify' | 'sampleLimit'> {
  /**
   * Also decide every table's load the way a sync in this mode would, comparing digests where it would (in a
   * transaction that is rolled back, its work in temporary tables), and return it as `plan.preview`: per table
   * the mode and the rows a sync would insert, update and delete. This runs the sync's own steps up to its first
   * write, then stops; it never writes a history row. Default: no preview (the plan alone is cheap).
   */
  preview?: SyncMode | undefined;
}

export interface VerifyOptions extends ConnectionOptions {
  /** How many example keys to report per kind of difference; default 10. */
  sampleLimit?: number | undefined;
  /** Progress events (phase `verification`, rows compared / total). */
  onEvent?: SyncEventListener | undefined;
  /** No row arriving from a side for this long ends the comparison; default 60 s. */
  stallTimeoutMs?: number | undefined;
  /**
   * Go by the watermark of the last committed sync between the two databases (in the target's
   * archon_sync_history), reading only rows written since where it vouches for a table; default true.
   */
  watermark?: boolean | undefined;
}

export interface HistoryQuery {
  /** URI of the database holding the table. */
  database: string;
  limit: number;
  direction?: string | undefined;
  connectTimeoutMs?: number | undefined;
  /** Where the backups are (for `undoable`); default as BackupOptions.dir. */
  backupDir?: string | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Plans
export type CopyFormat = 'binary' | 'text';

export interface TablePlan {
  schema: string;
  name: string;
  /** Quoted, schema-qualified name for SQL. */
  sql: string;
  /** Columns copied, matched by name; generated columns are left out and recomputed by the target. */
  columns: string[];
  format: CopyFormat;
  /** Why the table travels as text, when it does. */
  formatReason: string | undefined;
  /** Columns whose binary form embeds type OIDs on either side: compared through their text form. */
  textColumns: string[];
  /** Rows in the source snapshot. */
  sourceRows: number;
  /** Target indexes dropped before loading and re-created after it (those that back no constraint). */
  indexes: IndexInfo[];
  /** Estimated bytes of the source table (pg_table_size): what a full copy moves, roughly. */
  sourceBytes: number;
  /** Target sequences the table's columns own or draw from, moved past every id after loading. */
  sequences: SequencePlan[];
  /** Target columns the source lacks: they get their default (or NULL). */
  targetOnlyColumns: string[];
  /** The target's primary-key columns (what checksum verification matches rows on). */
  primaryKey: string[];
  /** The table's oid on each side: a watermark names the tables it vouches for by them (a table swapped in has another). */
  oids: { source: number; target: number };
}

/** What a run does to one table, decided before its first write. */
export interface TablePreview {
  /** Unqualified table name. */
  table: string;
  mode: 'full' | 'incremental';
  /** Why the table is copied in full, when it is. */
  reason: string | undefined;
  /** Rows the run inserts, updates and deletes: for a full copy every source row in, every target row out. */
  inserts: number;
  updates: number;
  deletes: number;
  /** Rows in the source snapshot, and on the target before the run. */
  sourceRows: number;
  targetRows: number;
  /** Rows that travel from the source: all of them in a full copy, the new and changed ones otherwise. */
  rowsToCopy: number;
  /** Secondary indexes dropped and built again (a full copy's; an incremental load keeps them). */
  indexesToRebuild: number;
  /**
   * Rows the deletion guard counts as deleted: target-only keys where the rows were compared (incremental, or
   * auto's full copy after comparing); for a full copy made without comparing, the net loss target − source
   * (never below 0), since its keys are not compared.
   */
  guardDeletes: number;
  /** Rows the target itself wrote since the last committed run, told apart by the watermark; undefined where no watermark is trusted for the table. */
  targetEdits?: TargetEdits | undefined;
}

/** Rows the target wrote on its own since the last committed run, by kind, and the first few keys as `column=value`. */
export interface TargetEdits {
  inserted: number;
  updated: number;
  deleted: number;
  keys: string[];
}

/** A table the deletion guard refuses: the run would delete `deletes` of its `targetRows` (`share`, 0–1). */
export interface GuardedTable {
  table: string;
  deletes: number;
  targetRows: number;
  share: number;
}

/** What the deletion guard decided, the same in a preview and a sync. */
export interface DeleteGuard {
  /** The largest share of any table's target rows a run may delete (maxDeleteShare). */
  maxDeleteShare: number;
  /** Tables over it, in load order: a sync with any refuses before its first write. */
  refused: GuardedTable[];
}

/** The target's own edits since the last committed run, over every table, as the run would overwrite them. */
export interface TargetEditsSummary {
  inserted: number;
  updated: number;
  deleted: number;
  /** Per table with edits: its counts and first keys. */
  tables: { table: string; inserted: number; updated: number; deleted: number; keys: string[] }[];
  /** Tables with rows on the target whose own edits cannot be told apart (no watermark trusted for them, or copied without comparing). */
  untold: string[];
  /** What the run does with them: `ask` (the confirmation decides), `refuse` or `overwrite`. */
  policy: 'ask' | 'refuse' | 'overwrite';
}

/** The run's decisions, from the same steps in plan({ preview }) and in sync() (where confirm gets them). */
export interface SyncPreview {
  /** The mode asked for; each table's own is in `tables`. */
  mode: SyncMode;
  triggerSuppression: TriggerSuppression;
  /** The run whose watermark let unchanged rows go undigested, if one did. */
  comparedSince: string | undefined;
  /**
   * Tables whose every row is compared although the last run left a watermark, because it could not prove them
   * unchanged since, and why: table → e.g. `its columns, their defaults or their types changed on the source since sync_…`.
   */
  comparedInFull: Record<string, string>;
  /** Every planned table, in load order. */
  tables: TablePreview[];
  totals: PreviewTotals;
  /** The deletion guard's verdict: a sync refuses when `refused` is not empty. */
  guard: DeleteGuard;
  /** Rows the target wrote since the last committed run that the run would overwrite, and where that cannot be told. */
  targetEdits: TargetEditsSummary;
  /** What keeping the old rows for undo takes, and whether the run can; undefined with backups off. */
  backup?: BackupEstimate | undefined;
}

export interface PreviewTotals {
  tables: number;
  incrementalTables: number;
  fullTables: number;
  inserts: number;
  updates: number;
  deletes: number;
  rowsToCopy: number;
  indexesToRebuild: number;
}

/** A plan with its decisions: what plan({ preview }) returns and what the confirmation hook receives. */
export type PreviewedPlan = SyncPlan & { preview: SyncPreview };

export interface SequencePlan extends SequenceInfo {
  /** The matching source sequence's last value (null: never called or unreadable): ids are never reused. */
  sourceLastValue: number | null;
}

export interface SyncPlan {
  schema: string;
  tables: TablePlan[];
  /** Selected tables that exist on neither side (an older Archon schema): nothing to copy, nothing lost. */
  skippedTables: string[];
  /** With plan({ preview }) and in a sync's confirmation: every table's decision. */
  preview?: SyncPreview | undefined;
  totalRows: number;
  source: ServerInfo;
  target: ServerInfo;
  /** Target FKs from tables outside the selection into it: set aside during the load, put back validated. */
  externalReferences: ForeignKeyInfo[];
  /** Target FKs whose referencing table is selected: checked after the load when FK triggers were skipped. */
  foreignKeys: ForeignKeyInfo[];
  /** Enabled user triggers on the selected target tables; none may fire while we load. */
  triggers: TriggerInfo[];
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Results
export interface TableResult {
  table: string;
  format: 'binary' | 'text';
  /** How the table was loaded. */
  mode: 'full' | 'incremental';
  sourceRows: number;
  /** Rows that travelled from the source (all of them in a full copy). */
  copiedRows: number;
  /** Rows on the target after the load (counted before COMMIT). */
  targetRows: number;
  /** Rows the load inserted, updated and deleted: a full copy inserts every source row and deletes every row the target had. */
  inserted: number;
  updated: number;
  deleted: number;
  bytes: number;
  seconds: number;
}

export interface SyncResult {
  syncId: string | undefined;
  /** The plan with the decisions the run followed (what its confirmation hook was shown). */
  plan: PreviewedPlan;
  tables: TableResult[];
  triggerSuppression: TriggerSuppression;
  /** What was checked before COMMIT. */
  verify: 'count' | 'checksum';
  /**
   * The run (sync id) whose watermark told which rows had not changed since: only the others were digested.
   * Undefined when every row of the compared tables was digested (or nothing was compared).
   */
  comparedSince: string | undefined;
  /**
   * Tables whose every row was digested although the last run left a watermark, because it could not prove
   * them unchanged since, and why: table → e.g. `its columns, their defaults or their types changed on the source since sync_…`.
   */
  comparedInFull: Record<string, string>;
  /** Seconds spent in each phase, and in total. */
  durations: Record<SyncPhase | 'total', number>;
  bytes: number;
  warnings: string[];
  /** What was kept for undo(), or why nothing was. */
  backup: BackupReport;
  /** The target's own edits since the last committed run that this run overwrote (the preview's, as confirmed). */
  targetEdits: TargetEditsSummary;
}

export interface KeySample {
  count: number;
  /** The first few keys, as `column=value` (joined with `, ` for composite keys). */
  keys: string[];
}

export interface TableComparison {
  table: string;
  /** `keyed`: row by row on the primary key; `aggregate`: one digest of the whole table; `missing`: absent on a side. */
  method: 'keyed' | 'aggregate' | 'missing';
  equal: boolean;
  sourceRows: number;
  targetRows: number;
  onlyOnSource: KeySample;
  onlyOnTarget: KeySample;
  differing: KeySample;
  sourceOnlyColumns: string[];
  targetOnlyColumns: string[];
  missingOn?: 'source' | 'target' | undefined;
}

export interface VerifyResult {
  equal: boolean;
  tables: TableComparison[];
  seconds: number;
  /** The sync whose watermark spared the digests of rows unchanged since, if one did. */
  comparedSince?: string | undefined;
  /** Keyed tables whose every row was read, and why (table → reason): all of them when no watermark was used. */
  readEveryRow?: Record<string, string> | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Events
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
  /** `message` in the library's words; `phrase` keeps its advice as data for a front end to word (Wording). */
  | { type: 'warning'; message: string; phrase?: Phrase | undefined }
  | { type: 'trigger-mode'; mode: TriggerSuppression };

/** How user triggers were kept from firing on the target. */
export type TriggerSuppression = 'replica-role' | 'disabled-triggers';

export type SyncEventListener = (event: SyncEvent) => void;

/** What a sync kept for undo, in its result. */
export type BackupReport =
  | {
    kept: true;
    /** The id to undo it by (the history row's sync id when the run was recorded). */
    syncId: string;
    /** The run's backup directory. */
    dir: string;
    /** Bytes of saved rows and keys. */
    bytes: number;
    /** Tables whose old rows were saved (emptied or changed by the run). */
    tables: number;
    /** Seconds the run spent keeping them: reading the target into files, flushing, sealing, pruning. */
    seconds: number;
  }
  | {
    kept: false;
    /** Why not, in one sentence. */
    reason: string;
    /** The run changed no rows: not a failure to keep them, there were none. */
    nothingToUndo?: true | undefined;
    /** The estimate that decided, when it was the size. */
    estimate?: BackupEstimate | undefined;
  };

export interface UndoOptions {
  /** URI of the database the run wrote to. */
  target: string;
  /** The run to undo: its sync id (SyncResult.backup.syncId; the history row's sync id). */
  syncId: string;
  /** Where the backups are; default as BackupOptions.dir (~/.local/state/archon-sync/backups). */
  backupDir?: string | undefined;
  /**
   * Go on although the target changed since the run (what changed is lost), or although that cannot be told
   * (the run's transaction is too old, the role may not read the server's identity). Never overrides a backup
   * from another database or of a run that did not commit.
   */
  force?: boolean | undefined;
  /**
   * Record the undo in the target's archon_sync_history (metadata `undo_of`), when the table exists and the run
   * was recorded with a direction; default on. `false`: do not.
   */
  history?: { triggeredBy?: string | undefined; syncId?: string | undefined } | false | undefined;
  /** Receives warnings. */
  onEvent?: SyncEventListener | undefined;
  signal?: AbortSignal | undefined;
  connectTimeoutMs?: number | undefined;
  lockTimeoutMs?: number | undefined;
  maintenanceWorkMem?: string | undefined;
  maxParallelMaintenanceWorkers?: number | undefined;
  /** As SyncOptions.triggerSuppression. */
  triggerSuppression?: 'auto' | 'disable-triggers' | undefined;
}

export interface UndoTableResult {
  table: string;
  /** `all`: emptied and reloaded; `keys`: the run's keys deleted and the old versions put back. */
  restore: 'all' | 'keys';
  /** Rows deleted by key (keys tables) or emptied (all tables). */
  deleted: number;
  /** Old rows put back. */
  restored: number;
  /** Rows the table has now. */
  rows: number;
}

export interface UndoResult {
  /** The undo's own id (its history row, when recorded). */
  syncId: string;
  /** The run undone. */
  undid: string;
  tables: UndoTableResult[];
  /** Sequences put back to where they were before the run. */
  sequences: number;
  /** What had changed since the run and was overwritten because of `force` (empty without). */
  overridden: string[];
  triggerSuppression: TriggerSuppression;
  seconds: number;
  warnings: string[];
}

/** The backup of one run: where it is, where it came from, and its summary; what the CLI needs before connecting. */
export interface BackupSummary {
  syncId: string;
  dir: string;
  state: BackupState | 'unreadable';
  createdAt: string | undefined;
  direction: string | undefined;
  sourceDb: string | undefined;
  targetDb: string | undefined;
  /** host:port/database of the target, without a password. */
  target: string | undefined;
  bytes: number;
}

/**
 * Where and how much of a run's old rows to keep on this machine, so undo() can put them back. The old versions
 * of the rows a run deletes or overwrites (every row of a table it copies in full) are streamed from the target
 * into files here before the run writes anything, and flushed before its COMMIT.
 */
export interface BackupOptions {
  /** Directory with one folder per target database; default ~/.local/state/archon-sync/backups (os.homedir()). */
  dir?: string | undefined;
  /** A run whose old rows would take more than this (estimated) cannot keep them; default 1 GiB. */
  limitBytes?: number | undefined;
  /** Backups kept per target database, newest first; default 10. */
  keep?: number | undefined;
  /**
   * When a run cannot keep its old rows (over the limit, too little free space): `warn` (default) goes on without
   * them, with a warning and `result.backup` saying why; `refuse` fails before writing anything (ValidationError),
   * as a caller with no one to ask should.
   */
  ifCannotKeep?: 'warn' | 'refuse' | undefined;
}

export interface BackupEstimate {
  /** Estimated bytes of the old rows a run keeps. */
  bytes: number;
  /** True when the modes were not known (a plan without a preview): every table counted as copied in full. */
  upperBound: boolean;
  limitBytes: number;
  /** Free bytes where the backups go. */
  freeBytes: number;
  dir: string;
  /** Whether a run can keep them: at most the limit, and leaving FREE_SPACE_MARGIN free. */
  fits: boolean;
  /** Why not, in one sentence. */
  reason: string | undefined;
  /** The option that changes it: the limit, or where the backups go. */
  option: 'backup.limitBytes' | 'backup.dir' | undefined;
  tables: { table: string; mode: 'full' | 'incremental'; bytes: number }[];
}

export interface UndoMarks {
  /** A backup of the run is kept here, for this very database, and the run committed. */
  undoable: boolean;
  /** The undo that already put the run's tables back, if one did. */
  undoneBy: string | null;
}

/**
 * Where a run's backup stands. `sealed`: written and flushed before the run's COMMIT, outcome not yet noted (a
 * process that died after COMMIT leaves this; txid_status() of `run.xid` tells). `committed`: the run committed.
 * `undone`: an undo put its tables back.
 */
export type BackupState = 'sealed' | 'committed' | 'undone';
