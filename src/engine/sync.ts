// The sync: one source snapshot, one target transaction, step by step; the target ends as the source or as it was.

import type pg from 'pg';
import { CopyError, type ArchonSyncError } from '../errors.js';
import { countRows, type ForeignKeyInfo, type IndexInfo } from '../pg/catalog.js';
import { IndexProgressMonitor } from '../pg/index-progress.js';
import { connect, describeEndpoint } from '../pg/connect.js';
import { CopyStalledError } from '../pg/copy.js';
import { quoteTable } from '../pg/quote.js';
import {
  addForeignKeyStatement,
  advanceSequences,
  beginTargetTransaction,
  commit,
  createIndexes,
  disableTriggerStatement,
  dropForeignKeyStatement,
  dropIndexesStatement,
  findForeignKeyViolation,
  lockTablesStatement,
  restoreTriggerStatement,
  runStatements,
  truncateStatement,
  trySkipTriggersWithReplicaRole,
} from '../pg/target-statements.js';
import { checksumError, compareTables, countMismatchError, type TableComparison } from './checks.js';
import { Session, selectedTables, type ConnectionOptions } from './connections.js';
import { DEFAULTS } from './defaults.js';
import { ProgressTracker, type CostTable, type SyncEventListener, type SyncPhase, type TriggerSuppression } from './events.js';
import { asSyncError } from './failure.js';
import { HistoryRecorder, newSyncId } from './history.js';
import { completedFields, failedFields, progressFields } from './history-fields.js';
import type { SyncPlan } from './plan.js';
import { readPlan } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';
import { DEFAULT_FULL_COPY_SHARE, IncrementalLoad, incrementalCandidates, loadsIncrementally, prepareDiff, type SyncMode } from './incremental.js';
import { FullCopy, type TableLoad, type TableResult } from './table-load.js';
import type { TablePlan } from './plan.js';
import type { StagedDiff } from '../pg/table-diff.js';
import { ServerProbe, type Stall } from './watchdog.js';
import { buildWatermark, changesSinceLastRun, marksReadable, type Marks, type TrustedChanges, type Watermark } from './watermark.js';
import { readServerMark } from '../pg/change-marks.js';
import { RunBackup, type BackupReport, type RunFacts } from './backup/run-backup.js';
import type { BackupOptions } from './backup/options.js';

export type { TableResult } from './table-load.js';
export type { SyncMode } from './incremental.js';

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
   * `full` empties and reloads every table; `incremental` compares per-row digests and moves only the rows that
   * differ (tables with a primary key, when the replica role is allowed); `auto` (default) chooses per table:
   * full for an empty target table or one without a primary key, or when more than `fullCopyShare` of its rows
   * changed, incremental otherwise. Every mode ends in the same state.
   */
  mode?: SyncMode | undefined;
  /** With mode `auto`, the share of changed rows above which a table is copied in full; default 0.35 (the crossover measured in docs/BENCHMARKS.md). */
  fullCopyShare?: number | undefined;
  /**
   * Keep the old versions of the rows the run deletes or overwrites on this machine, so undo() can put the
   * target back as it was; default on, in ~/.local/state/archon-sync/backups (see BackupOptions). `false`: keep nothing.
   */
  backup?: BackupOptions | false | undefined;
}

export interface SyncResult {
  syncId: string | undefined;
  plan: SyncPlan;
  tables: TableResult[];
  triggerSuppression: TriggerSuppression;
  /** What was checked before COMMIT. */
  verify: 'count' | 'checksum';
  /**
   * The run (sync id) whose watermark told which rows had not changed since: only the others were digested.
   * Undefined when every row of the compared tables was digested (or nothing was compared).
   */
  comparedSince: string | undefined;
  /** Seconds spent in each phase, and in total. */
  durations: Record<SyncPhase | 'total', number>;
  bytes: number;
  warnings: string[];
  /** What was kept for undo(), or why nothing was. */
  backup: BackupReport;
}

const STEP_NAMES: Record<SyncPhase, string> = { validation: 'validation', compare: 'comparison', copy: 'copy', indexing: 'index rebuild', verification: 'verification' };

/** The state of one run, so each step is a small method and the error path sees everything that was done. */
class SyncRun {
  private readonly tracker: ProgressTracker;
  private readonly warnings: string[] = [];
  private readonly durations: Record<SyncPhase | 'total', number> = { validation: 0, compare: 0, copy: 0, indexing: 0, verification: 0, total: 0 };
  private phaseStarted = Date.now();
  private readonly started = Date.now();
  private history: HistoryRecorder | undefined;
  private triggerSuppression: TriggerSuppression = 'replica-role';
  private readonly results: TableResult[] = [];
  private checksums: TableComparison[] = [];
  private currentTable: string | undefined;
  private stall: ArchonSyncError | undefined;
  private targetXid = '';
  private readonly stallTimeoutMs: number;
  /** Foreign keys of outside tables dropped for the load, put back before COMMIT. */
  private setAside: ForeignKeyInfo[] = [];
  /** Both sides' identity and snapshot, once read: the source's goes into this run's watermark. */
  private marks: Marks | undefined;
  private comparedSince: string | undefined;
  /** The old rows this run replaces, kept on this machine for undo. */
  private readonly backup: RunBackup;

  constructor(private readonly options: SyncOptions) {
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
    this.backup = RunBackup.from(options.backup);
    this.tracker = new ProgressTracker((event) => {
      options.onEvent?.(event);
      if (event.type !== 'warning' && event.type !== 'plan' && event.type !== 'trigger-mode') this.history?.update(progressFields(event));
    });
  }

  async execute(): Promise<SyncResult> {
    const tables = selectedTables(this.options);
    const session = await Session.open(this.options);
    const stopCancelling = session.cancelOnAbort(this.options.signal);
    const probes = this.stallTimeoutMs > 0
      ? (['source', 'target'] as const).map((side) => ServerProbe.start(session.uri(side), side, this.stallTimeoutMs,
        this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, (stall) => void this.stalled(session, stall)))
      : [];
    try {
      const result = await session.guard(this.transaction(session, tables));
      await this.history?.finish(completedFields(result, this.checksums));
      return result;
    } catch (error) {
      if (error instanceof CopyStalledError) await this.stalled(session, { side: error.side, kind: 'data', seconds: Math.round(error.idleMs / 1000) });
      const typed = asSyncError(error, { step: STEP_NAMES[this.tracker.phase], table: this.currentTable, signal: this.options.signal, stall: this.stall });
      await session.release();
      await this.backup.failed();
      await this.history?.finish(failedFields(typed, this.results, this.started, this.checksums));
      throw typed;
    } finally {
      for (const probe of probes) probe.stop();
      stopCancelling();
      await this.history?.close();
      await session.close();
    }
  }

  /** The target transaction, as its steps. */
  private async transaction(session: Session, tables: readonly string[]): Promise<SyncResult> {
    const plan = await this.validate(session, tables);
    const loads = await this.chooseLoads(session, plan);
    this.enterPhase('copy');
    this.tracker.setPlan(loads.map((load) => workOf(load)), { verify: this.options.verify });
    await this.backup.keep(session.target, plan, loads, this.backupFacts());
    await this.prepareTarget(session.target, plan, loads);
    for (const load of [...loads].reverse()) await load.removeStale?.(session);
    for (const load of loads) await this.loadTable(session, load);
    this.enterPhase('indexing');
    await this.rebuildIndexes(session, loads);
    await this.restoreConstraints(session.target, plan, loads);
    await advanceSequences(session.target, loads.filter((load) => load.changed).flatMap(({ table }) =>
      table.sequences.map((sequence) => ({ sequence, table: table.sql, sourceLastValue: sequence.sourceLastValue }))));
    this.enterPhase('verification');
    await this.verify(session, plan);
    await this.commit(session, plan);
    this.tracker.complete();
    return {
      syncId: this.history?.syncId,
      plan,
      tables: this.results,
      triggerSuppression: this.triggerSuppression,
      verify: this.options.verify ?? 'count',
      comparedSince: this.comparedSince,
      durations: this.durations,
      bytes: this.results.reduce((s, t) => s + t.bytes, 0),
      warnings: this.warnings,
      backup: this.backup.report,
    };
  }

  /** What the backup's manifest records of this run. */
  private backupFacts(): RunFacts {
    const { options } = this;
    return {
      syncId: this.history?.syncId ?? (options.history ? options.history.syncId : undefined) ?? newSyncId(new Date(this.started)),
      targetXid: this.targetXid,
      sourceLabel: describeEndpoint(options.source).label,
      targetLabel: describeEndpoint(options.target).label,
      history: options.history ? { direction: options.history.direction, sourceDb: options.history.sourceDb, targetDb: options.history.targetDb } : undefined,
      signal: options.signal,
      warn: (message) => this.warn(message),
    };
  }

  /** Opens the target transaction, takes the one-sync-at-a-time lock, starts the history row and reads the plan. */
  private async validate(session: Session, tables: readonly string[]): Promise<SyncPlan> {
    const { options } = this;
    this.tracker.setPhase('validation');
    const begun = await beginTargetTransaction(session.target, {
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
      maintenanceWorkMem: options.maintenanceWorkMem ?? DEFAULTS.maintenanceWorkMem,
      maxParallelMaintenanceWorkers: options.maxParallelMaintenanceWorkers ?? DEFAULTS.maxParallelMaintenanceWorkers,
    });
    session.targetPid = begun.backendPid;
    this.targetXid = begun.xid;
    await refuseIfAnotherRun(session.target, begun.lockIsFree);
    // Recorded from here on, so a run that fails validation leaves a `failed` row saying why.
    if (options.history) await this.startHistory(options.history, tables);
    const plan = await readPlan(session, options, tables);
    for (const warning of plan.warnings) this.warn(warning);
    options.onEvent?.({ type: 'plan', plan });
    this.tracker.totalRows = plan.totalRows;
    this.tracker.totalIndexes = plan.tables.reduce((sum, t) => sum + t.indexes.length, 0);
    this.history?.update({ total_rows: plan.totalRows, metadata: this.historyMetadata(plan.tables.map((t) => t.name), plan.skippedTables) });
    throwIfAborted(options.signal);
    return plan;
  }

  /**
   * How each table is loaded. Incremental needs the replica role (deleting an old row version with FK triggers
   * active would cascade to unchanged children) and a primary key; an empty target table is always loaded in full.
   * Candidates are locked SHARE ROW EXCLUSIVE (writers wait, Archon's readers do not) before their digests are
   * compared, so nothing changes between the comparison and the apply.
   */
  private async chooseLoads(session: Session, plan: SyncPlan): Promise<TableLoad[]> {
    const target = session.target;
    const mode = this.options.mode ?? 'auto';
    const replica = this.options.triggerSuppression !== 'disable-triggers' && (await trySkipTriggersWithReplicaRole(target));
    this.triggerSuppression = replica ? 'replica-role' : 'disabled-triggers';
    this.options.onEvent?.({ type: 'trigger-mode', mode: this.triggerSuppression });
    const { candidates, fullBecause } = await incrementalCandidates(target, plan, mode, replica);
    if (mode === 'incremental') {
      for (const [table, reason] of fullBecause) {
        if (reason !== 'empty on the target') this.warn(`${table.schema}.${table.name} is copied in full: ${reason}`);
      }
    }
    const staged = await this.compareDigests(session, plan, candidates);
    const choice = { mode, fullCopyShare: this.options.fullCopyShare ?? DEFAULT_FULL_COPY_SHARE };
    const incremental = new Map([...staged].filter(([, diff]) => loadsIncrementally(choice, diff)));
    // A table copied in full that an incrementally loaded table still references cannot be TRUNCATEd alone.
    const referenced = new Set(plan.foreignKeys
      .filter((fk) => [...incremental.keys()].some((t) => t.name === fk.table && t.schema === fk.schema))
      .map((fk) => `${fk.refSchema}.${fk.refTable}`));
    return plan.tables.map((table) => {
      const diff = incremental.get(table);
      if (diff) return new IncrementalLoad(table, diff);
      return new FullCopy(table, referenced.has(`${table.schema}.${table.name}`) ? 'delete' : 'truncate');
    });
  }

  /** Locks the candidates against writers and compares every row's digest; nothing is written to them. */
  private async compareDigests(session: Session, plan: SyncPlan, candidates: readonly TablePlan[]): Promise<Map<TablePlan, StagedDiff>> {
    const staged = new Map<TablePlan, StagedDiff>();
    if (candidates.length === 0) return staged;
    // The comparison in the estimate too, so the percent and ETA move while digests stream.
    this.tracker.setPlan(plan.tables, { verify: this.options.verify, diff: candidates });
    this.enterPhase('compare');
    await runStatements(session.target, lockTablesStatement(candidates.map((t) => t.sql), 'SHARE ROW EXCLUSIVE'));
    const trusted = await this.trustedChanges(session, plan, candidates);
    this.comparedSince = trusted?.sinceSyncId;
    const differ = await prepareDiff(session, candidates, trusted?.filters);
    for (const table of candidates) {
      throwIfAborted(this.options.signal);
      this.currentTable = `${table.schema}.${table.name}`;
      this.tracker.startTable(table.name, table.sourceRows, table.format);
      const diff = await differ.diff(session, table, {
        signal: this.options.signal, stallTimeoutMs: this.stallTimeoutMs, onRows: (rows, bytes) => this.tracker.tableProgress(rows, bytes),
      });
      this.tracker.endTable(diff.sourceRows, diff.bytes);
      staged.set(table, diff);
    }
    return staged;
  }

  /**
   * What the last committed run between these servers left as its watermark, if it can be trusted here: then
   * rows neither side rewrote since need no digest. Read after the locks, so no writer of these tables is left
   * whose rows the marks could miss. Only with a history row of our own (where this run's watermark goes too).
   */
  private async trustedChanges(session: Session, plan: SyncPlan, candidates: readonly TablePlan[]): Promise<TrustedChanges | undefined> {
    if (!this.history?.recording) return undefined;
    const { marks, trusted } = await changesSinceLastRun(session, plan, candidates);
    this.marks = marks;
    return trusted;
  }

  /** Locks, silences triggers, sets aside references from outside tables, drops indexes, empties tables: one message. */
  private async prepareTarget(target: pg.ClientBase, plan: SyncPlan, loads: readonly TableLoad[]): Promise<void> {
    const full = loads.filter((load) => load.mode === 'full').map((load) => load.table);
    const fullNames = new Set(full.map((t) => t.name));
    // References from outside tables into tables copied in full are set aside (TRUNCATE would refuse them).
    const setAside = plan.externalReferences.filter((fk) => fk.refSchema === plan.schema && fullNames.has(fk.refTable));
    this.setAside = setAside;
    const outside = setAside.map((fk) => quoteTable(fk.schema, fk.table));
    await runStatements(target, [
      ...lockTablesStatement([...new Set([...full.map((t) => t.sql), ...outside])], 'ACCESS EXCLUSIVE'),
      ...this.triggersToSilence(plan).map(disableTriggerStatement),
      ...setAside.map(dropForeignKeyStatement),
      ...dropIndexesStatement(loads.flatMap((load) => load.indexesToDrop())),
      ...loads.flatMap((load) => load.prepareStatements()),
      ...truncateStatement(loads.filter((load) => load.truncates).map((load) => load.table.sql)),
    ]);
  }

  /** In replica mode ordinary triggers are already silent, but ALWAYS and REPLICA triggers would still fire. */
  private triggersToSilence(plan: SyncPlan) {
    return plan.triggers.filter((t) => this.triggerSuppression !== 'replica-role' || t.mode === 'A' || t.mode === 'R');
  }

  private async loadTable(session: Session, load: TableLoad): Promise<void> {
    throwIfAborted(this.options.signal);
    const { table } = load;
    this.currentTable = `${table.schema}.${table.name}`;
    this.tracker.startTable(table.name, table.sourceRows, table.format);
    const loaded = await load.load({
      session,
      signal: this.options.signal,
      stallTimeoutMs: this.stallTimeoutMs,
      onRows: (rows, bytes) => this.tracker.tableProgress(rows, bytes),
    });
    const seconds = this.tracker.endTable(loaded.copiedRows, loaded.bytes);
    this.results.push({ ...loaded, targetRows: -1, seconds });
  }

  /**
   * Builds each table's indexes in one message. Their progress comes from pg_stat_progress_create_index, read on a
   * connection of its own; the builder announces which index of the batch it is on (application_name), so the
   * live display and the history row can say which index builds and how far it is.
   */
  private async rebuildIndexes(session: Session, loads: readonly TableLoad[]): Promise<void> {
    const work = loads.filter((load) => load.indexesToBuild().length > 0);
    if (work.length === 0) return;
    const workers = this.options.maxParallelMaintenanceWorkers ?? DEFAULTS.maxParallelMaintenanceWorkers;
    let batch: IndexInfo[] = [];
    let table = '';
    let current = -1;
    let currentStarted = 0;
    // Marks the builds before `position` done and starts the one at it (or none past the batch's end).
    const advanceTo = (position: number, at = Date.now()) => {
      while (current < Math.min(position, batch.length)) {
        const done = batch[current];
        if (done) this.tracker.indexBuilt(table, done.name, (at - currentStarted) / 1000);
        current += 1;
        const next = batch[current];
        if (next && current <= position) {
          // A build first seen in a monitor reading started no later than that reading was taken.
          currentStarted = at;
          this.tracker.indexStarted(table, next.name, at);
        }
      }
    };
    const monitor = IndexProgressMonitor.start(
      () => connect(this.options.target, { side: 'target (progress)', connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, applicationName: 'archon-sync-progress' }),
      session.targetPid,
      (sample) => {
        if (sample.position !== undefined && sample.table === table && sample.position > current) advanceTo(sample.position, sample.sampledAt);
        this.tracker.indexProgress(sample);
      },
    );
    try {
      for (const load of work) {
        throwIfAborted(this.options.signal);
        batch = load.indexesToBuild();
        table = load.table.name;
        current = -1;
        advanceTo(0);
        this.currentTable = `${load.table.schema}.${load.table.name}`;
        const { serialFallback, outgrewMemory } = await createIndexes(session.target, batch, workers);
        advanceTo(batch.length);
        if (serialFallback) {
          this.warn(`building the indexes of ${load.table.name} with parallel workers ran out of shared memory on the target (a container's /dev/shm, 64 MB by default); `
            + 'built them without workers instead: give the container a larger shm_size (e.g. 1g) or set maxParallelMaintenanceWorkers to 0');
        }
        if (outgrewMemory) {
          const hnsw = batch.filter((i) => i.method === 'hnsw').map((i) => i.name).join(', ') || load.table.name;
          this.warn(`${hnsw}: ${outgrewMemory}, so the rest of its build was several times slower; next time raise maintenanceWorkMem `
            + `(now ${this.options.maintenanceWorkMem ?? DEFAULTS.maintenanceWorkMem}) if the target has the memory (about 7 kB per 1536-dimension row)`);
        }
      }
    } finally {
      await monitor.stop();
    }
    this.currentTable = undefined;
  }

  /**
   * With FK triggers skipped (replica role) nothing checked the loaded rows, so every FK touching a changed table
   * is checked set-based, in one statement; references from tables we do not copy are checked the same way
   * (naming the row that would dangle), those set aside are put back, and the silenced triggers are enabled
   * again, in one message.
   */
  private async restoreConstraints(target: pg.ClientBase, plan: SyncPlan, loads: readonly TableLoad[]): Promise<void> {
    throwIfAborted(this.options.signal);
    const changed = new Set(loads.filter((load) => load.changed).map((load) => `${load.table.schema}.${load.table.name}`));
    const touches = (fk: { schema: string; table: string; refSchema: string; refTable: string }) =>
      changed.has(`${fk.schema}.${fk.table}`) || changed.has(`${fk.refSchema}.${fk.refTable}`);
    const copied = this.triggerSuppression === 'replica-role' ? plan.foreignKeys.filter((f) => f.validated && touches(f)) : [];
    const kept = plan.externalReferences.filter((f) => f.validated && (touches(f) || this.setAside.includes(f)));
    const checked = [...copied, ...kept];
    const violation = await findForeignKeyViolation(target, checked);
    const fk = violation ? checked[violation.index] : undefined;
    if (violation && fk) {
      const key = Object.entries(violation.key).map(([column, value]) => `${column}=${value}`).join(', ');
      const table = `${fk.schema}.${fk.table}`;
      const message = copied.includes(fk)
        ? `${table} row with ${key} references ${fk.refSchema}.${fk.refTable}, which has no such row on the target (constraint ${fk.name}); copy that table too or fix the source data; the target was rolled back`
        : `${table} (not copied) has a row with ${key} whose ${fk.refTable} row is not in the source (constraint ${fk.name}); it would be left dangling, so nothing was changed — remove or re-point that row first`;
      throw new CopyError(message, { table, constraint: fk.name, details: { key: violation.key } });
    }
    await runStatements(target, [
      ...this.setAside.map(addForeignKeyStatement),
      ...this.triggersToSilence(plan).map(restoreTriggerStatement).filter((s): s is string => s !== undefined),
    ]);
  }

  /** Counts (always) and every row's digest (with verify: 'checksum'), source snapshot against the uncommitted target. */
  private async verify(session: Session, plan: SyncPlan): Promise<void> {
    throwIfAborted(this.options.signal);
    const targetRows = await countRows(session.target, plan.tables.map((t) => t.sql));
    plan.tables.forEach((table, i) => {
      const result = this.results.find((r) => r.table === table.name);
      if (result) result.targetRows = targetRows[i] ?? -1;
    });
    const mismatch = countMismatchError(plan, this.results);
    if (mismatch) throw mismatch;
    if (this.options.verify !== 'checksum') return;
    this.tracker.restartCounting();
    this.checksums = [];
    await compareTables(session, plan.tables, {
      sampleLimit: this.options.sampleLimit ?? DEFAULTS.sampleLimit,
      signal: this.options.signal,
      stallTimeoutMs: this.stallTimeoutMs,
      tracker: this.tracker,
      onTable: (table) => { this.currentTable = table; },
      onResult: (result) => this.checksums.push(result),
      onStall: (stall) => this.stalled(session, stall),
    });
    this.currentTable = undefined;
    const differences = this.checksums.filter((r) => !r.equal);
    if (differences.length > 0) throw checksumError(differences);
  }

  /**
   * The target transaction id goes into the history row first: if we die right after COMMIT, the next run can
   * tell. With it the watermark: the target's snapshot now, after every write, and the source's.
   */
  private async commit(session: Session, plan: SyncPlan): Promise<void> {
    throwIfAborted(this.options.signal);
    const watermark = await this.watermark(session, plan);
    await this.backup.seal();
    await this.history?.settle({
      metadata: {
        ...this.historyMetadata(this.results.map((r) => r.table), []), target_xid: this.targetXid,
        ...(this.comparedSince ? { compared_since: this.comparedSince } : {}), ...(watermark ? { watermark } : {}),
      },
    });
    await commit(session.target);
    await this.backup.committed((message) => this.warn(message));
    this.durations.total = (Date.now() - this.started) / 1000;
    this.enterPhase('verification');
  }

  private async watermark(session: Session, plan: SyncPlan): Promise<Watermark | undefined> {
    if (!this.history?.recording || !marksReadable(plan.source) || !marksReadable(plan.target)) return undefined;
    // The source snapshot is the transaction's (repeatable read): read once is read for the run.
    const [source, target] = await Promise.all([this.marks?.source ?? readServerMark(session.source), readServerMark(session.target)]);
    return buildWatermark(source, target, this.targetXid, plan.tables);
  }

  /** A watchdog saw a side stop: remember why (the socket error that follows would hide it) and let go of that side. */
  private async stalled(session: Session, stall: Stall): Promise<void> {
    if (this.stall) return;
    const what = stall.kind === 'data' ? `stopped ${stall.side === 'source' ? 'sending' : 'reading'} data` : 'stopped answering';
    this.stall = new CopyError(
      `${STEP_NAMES[this.tracker.phase]}${this.currentTable ? ` of ${this.currentTable}` : ''} failed: the ${stall.side} ${what} for ${stall.seconds} s (stallTimeoutMs); the target was rolled back`,
      { table: this.currentTable, option: 'stallTimeoutMs', details: { step: STEP_NAMES[this.tracker.phase], stalledSide: stall.side, stall: stall.kind } },
    );
    await session.abandon(stall.side);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.options.onEvent?.({ type: 'warning', message });
  }

  private enterPhase(phase: SyncPhase): void {
    const now = Date.now();
    this.durations[this.tracker.phase] += (now - this.phaseStarted) / 1000;
    this.phaseStarted = now;
    this.tracker.setPhase(phase);
  }

  private historyMetadata(tables: readonly string[], skipped: readonly string[]): Record<string, unknown> {
    return {
      tool: 'archon-sync',
      source: describeEndpoint(this.options.source).label,
      target: describeEndpoint(this.options.target).label,
      tables,
      ...(skipped.length > 0 ? { skipped_tables: skipped } : {}),
      ...(this.targetXid ? { target_xid: this.targetXid } : {}),
    };
  }

  private async startHistory(history: HistoryOptions, tables: readonly string[]): Promise<void> {
    const { options } = this;
    this.history = await HistoryRecorder.start(
      () => connect(options.target, { side: 'target (history)', connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, applicationName: 'archon-sync-history' }),
      {
        syncId: history.syncId ?? newSyncId(new Date(this.started)),
        direction: history.direction,
        triggeredBy: history.triggeredBy ?? 'library',
        sourceDb: history.sourceDb,
        targetDb: history.targetDb,
        metadata: this.historyMetadata(tables, []),
      },
      (message) => this.warn(message),
    );
  }
}

/** What the progress cost model should expect of a load: an incremental one moves only its changed rows, builds nothing. */
function workOf(load: TableLoad): CostTable {
  if (!(load instanceof IncrementalLoad)) return load.table;
  const moved = load.staged.inserts + load.staged.updates;
  const share = moved / Math.max(1, load.table.sourceRows);
  return { name: load.table.name, sourceRows: moved, sourceBytes: load.table.sourceBytes * share, indexes: [] };
}

/** Copies the selected tables from source to target in one atomic step. Resolves when committed. */
export async function sync(options: SyncOptions): Promise<SyncResult> {
  try {
    return await new SyncRun(options).execute();
  } catch (error) {
    throw asSyncError(error, { step: 'sync', signal: options.signal });
  }
}
