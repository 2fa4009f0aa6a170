// The sync: one source snapshot, one target transaction, step by step; the target ends as the source or as it was.

import type pg from 'pg';
import { CopyError, VerificationError } from '../errors.js';
import { countRows, readSequenceState, type ForeignKeyInfo, type TriggerInfo } from '../pg/catalog.js';
import { connect, describeEndpoint } from '../pg/connect.js';
import { copyTable } from '../pg/copy.js';
import {
  addForeignKey,
  backendPid,
  beginTargetTransaction,
  createIndex,
  disableTrigger,
  dropForeignKey,
  dropIndex,
  findForeignKeyViolation,
  lockTables,
  restoreTrigger,
  setSequence,
  truncateTables,
  tryLockSyncSlot,
  trySkipTriggersWithReplicaRole,
} from '../pg/target-statements.js';
import { quoteTable } from '../pg/quote.js';
import { compareTable, specFromPlan, type TableComparison } from './compare.js';
import { useCanonicalTextOutput } from '../pg/row-digests.js';
import { ProgressTracker, type SyncEventListener, type SyncPhase, type TriggerSuppression } from './events.js';
import { HistoryRecorder, newSyncId } from './history.js';
import type { SyncPlan, TablePlan } from './plan.js';
import {
  asSyncError, cancelOnAbort, DEFAULT_LOCK_TIMEOUT_MS, openSession, readPlan, refuseIfAnotherRun, selectedTables, throwIfAborted,
  type ConnectionOptions, type Session,
} from './session.js';

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
  /** Record the run in the target's archon_sync_history; default: not recorded. */
  history?: HistoryOptions | false | undefined;
  /**
   * `count` (default): per table, source snapshot rows = rows streamed = target rows. `checksum` also compares
   * every row (primary key → md5 of its columns, computed on both servers) before commit.
   */
  verify?: 'count' | 'checksum' | undefined;
  /** How many example keys a checksum mismatch reports per kind; default 10. */
  sampleLimit?: number | undefined;
  /** For tests only: runs inside the target transaction just before verification. */
  beforeVerify?: ((target: pg.ClientBase) => Promise<void>) | undefined;
}

export interface TableResult {
  table: string;
  format: 'binary' | 'text';
  sourceRows: number;
  copiedRows: number;
  targetRows: number;
  bytes: number;
  seconds: number;
}

export interface SyncResult {
  syncId: string | undefined;
  plan: SyncPlan;
  tables: TableResult[];
  triggerSuppression: TriggerSuppression;
  /** Seconds spent in each phase, and in total. */
  durations: Record<SyncPhase | 'total', number>;
  bytes: number;
  warnings: string[];
}

const DEFAULTS = { lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, maintenanceWorkMem: '256MB', maxParallelMaintenanceWorkers: 2 };

/** The state of one run, so each step is a small method and the error path sees everything that was done. */
class SyncRun {
  private readonly tracker: ProgressTracker;
  private readonly warnings: string[] = [];
  private readonly durations: Record<SyncPhase | 'total', number> = { validation: 0, copy: 0, indexing: 0, verification: 0, total: 0 };
  private phaseStarted = Date.now();
  private readonly started = Date.now();
  private history: HistoryRecorder | undefined;
  private triggerSuppression: TriggerSuppression = 'replica-role';
  private disabledTriggers: TriggerInfo[] = [];
  private readonly results: TableResult[] = [];
  private checksumResults: TableComparison[] = [];
  private currentTable: string | undefined;

  constructor(private readonly options: SyncOptions) {
    this.tracker = new ProgressTracker((event) => {
      options.onEvent?.(event);
      if (event.type !== 'warning' && event.type !== 'plan' && event.type !== 'trigger-mode') {
        this.history?.update({
          current_phase: event.phase,
          current_table: event.table ?? null,
          synced_rows: event.syncedRows,
          total_rows: event.totalRows,
          percent_complete: event.percent,
        });
      }
    });
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

  async execute(): Promise<SyncResult> {
    const session = await openSession(this.options);
    const stopCancelling = cancelOnAbort(this.options, session);
    try {
      const result = await this.run(session);
      await this.history?.finish({
        status: 'completed',
        current_phase: 'verification',
        current_table: null,
        percent_complete: 100,
        completed_at: new Date(),
        duration_seconds: Math.round(result.durations.total),
        synced_rows: result.tables.reduce((s, t) => s + t.copiedRows, 0),
        export_duration_seconds: Math.round(result.durations.copy),
        import_duration_seconds: Math.round(result.durations.copy),
        indexing_duration_seconds: Math.round(result.durations.indexing),
        export_size_mb: Math.round((result.bytes / 1048576) * 100) / 100,
        tables_synced: result.tables.map((t) => ({ name: t.table, rows: t.copiedRows, duration: Math.round(t.seconds * 1000) / 1000 })),
        verification_results: this.verificationSummary(),
      });
      return result;
    } catch (error) {
      const typed = asSyncError(error, this.describeStep(), this.options.signal, this.currentTable);
      await session.target.query('ROLLBACK').catch(() => undefined);
      await this.history?.finish({
        status: typed.code === 'CANCELLED' ? 'cancelled' : 'failed',
        completed_at: new Date(),
        duration_seconds: Math.round((Date.now() - this.started) / 1000),
        error_message: typed.message,
        error_details: { code: typed.code, table: typed.table ?? null, constraint: typed.constraint ?? null, ...(typed.details ?? {}) },
        tables_synced: this.results.map((t) => ({ name: t.table, rows: t.copiedRows, duration: t.seconds })),
        verification_results: this.verificationSummary(),
      });
      throw typed;
    } finally {
      stopCancelling();
      await this.history?.close();
      await session.close();
    }
  }

  private describeStep(): string {
    switch (this.tracker.phase) {
      case 'validation': return 'validation';
      case 'copy': return 'copy';
      case 'indexing': return 'index rebuild';
      case 'verification': return 'verification';
    }
  }

  private verificationSummary(): Record<string, unknown> {
    const checksums = new Map(this.checksumResults.map((c) => [c.table, c]));
    return Object.fromEntries(this.results.map((t) => {
      const checksum = checksums.get(t.table);
      return [t.table, {
        source: t.sourceRows, copied: t.copiedRows, target: t.targetRows,
        ...(checksum ? { checksum: { equal: checksum.equal, onlyOnSource: checksum.onlyOnSource, onlyOnTarget: checksum.onlyOnTarget, differing: checksum.differing } } : {}),
      }];
    }));
  }

  private async run(session: Session): Promise<SyncResult> {
    const { options } = this;
    const signal = options.signal;
    this.tracker.setPhase('validation');
    await beginTargetTransaction(session.target, {
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
      maintenanceWorkMem: options.maintenanceWorkMem ?? DEFAULTS.maintenanceWorkMem,
      maxParallelMaintenanceWorkers: options.maxParallelMaintenanceWorkers ?? DEFAULTS.maxParallelMaintenanceWorkers,
    });
    session.targetPid = await backendPid(session.target);
    await refuseIfAnotherRun(session.target, await tryLockSyncSlot(session.target));
    // Recorded from here on, so a run that fails validation leaves a `failed` row saying why.
    if (options.history) await this.startHistory(options.history);
    const plan = await readPlan(session, options);
    for (const warning of plan.warnings) this.warn(warning);
    options.onEvent?.({ type: 'plan', plan });
    this.tracker.totalRows = plan.totalRows;
    this.tracker.totalIndexes = plan.tables.reduce((sum, t) => sum + t.indexes.length, 0);
    this.history?.update({ total_rows: plan.totalRows, metadata: this.historyMetadata(plan.tables.map((t) => t.name)) });
    throwIfAborted(signal);

    await this.prepareTarget(session.target, plan);
    this.enterPhase('copy');
    for (const table of plan.tables) {
      throwIfAborted(signal);
      await this.copyOne(session, table);
    }
    this.currentTable = undefined;
    this.enterPhase('indexing');
    await this.rebuildIndexes(session.target, plan);
    await this.restoreConstraints(session.target, plan);
    for (const trigger of this.disabledTriggers) await restoreTrigger(session.target, trigger);
    await this.setSequences(session, plan);
    this.enterPhase('verification');
    if (options.beforeVerify) await options.beforeVerify(session.target);
    await this.verifyCounts(session.target, plan);
    if (options.verify === 'checksum') await this.verifyChecksums(session, plan);
    throwIfAborted(signal);
    await session.target.query('COMMIT');
    this.enterPhase('verification');
    this.durations.total = (Date.now() - this.started) / 1000;
    return {
      syncId: this.history?.syncId,
      plan,
      tables: this.results,
      triggerSuppression: this.triggerSuppression,
      durations: this.durations,
      bytes: this.results.reduce((s, t) => s + t.bytes, 0),
      warnings: this.warnings,
    };
  }

  private historyMetadata(tables: readonly string[]): Record<string, unknown> {
    return {
      tool: 'archon-sync',
      source: describeEndpoint(this.options.source).label,
      target: describeEndpoint(this.options.target).label,
      tables,
    };
  }

  private async startHistory(history: HistoryOptions): Promise<void> {
    const { options } = this;
    this.history = await HistoryRecorder.start(
      () => connect(options.target, { side: 'target (history)', connectTimeoutMs: options.connectTimeoutMs, applicationName: 'archon-sync-history' }),
      {
        syncId: history.syncId ?? newSyncId(new Date(this.started)),
        direction: history.direction,
        triggeredBy: history.triggeredBy ?? 'library',
        sourceDb: history.sourceDb,
        targetDb: history.targetDb,
        metadata: this.historyMetadata(selectedTables(options)),
      },
      (message) => this.warn(message),
    );
  }

  /** Locks, silences triggers, sets aside outside references, drops the tables' secondary indexes and empties them. */
  private async prepareTarget(target: pg.ClientBase, plan: SyncPlan): Promise<void> {
    const outside = plan.externalReferences.map((fk) => quoteTable(fk.schema, fk.table));
    await lockTables(target, [...new Set([...plan.tables.map((t) => t.sql), ...outside])]);
    const replica = this.options.triggerSuppression !== 'disable-triggers' && (await trySkipTriggersWithReplicaRole(target));
    this.triggerSuppression = replica ? 'replica-role' : 'disabled-triggers';
    this.options.onEvent?.({ type: 'trigger-mode', mode: this.triggerSuppression });
    // In replica mode ordinary triggers are already silent, but ALWAYS and REPLICA triggers would still fire.
    this.disabledTriggers = plan.triggers.filter((t) => !replica || t.mode === 'A' || t.mode === 'R');
    for (const trigger of this.disabledTriggers) await disableTrigger(target, trigger);
    for (const fk of plan.externalReferences) await dropForeignKey(target, fk);
    // Indexes first: TRUNCATE rebuilds every index of the table empty, and an empty HNSW build still plans
    // parallel workers from the old table's size and asks for maintenance_work_mem of shared memory, which a
    // container's /dev/shm may not have. Dropped, they cost nothing to truncate.
    for (const table of plan.tables) {
      for (const index of table.indexes) await dropIndex(target, index);
    }
    await truncateTables(target, plan.tables.map((t) => t.sql));
  }

  private async copyOne(session: Session, table: TablePlan): Promise<void> {
    this.currentTable = `${table.schema}.${table.name}`;
    this.tracker.startTable(table.name, table.sourceRows, table.format);
    const { rows, bytes } = await copyTable({
      source: session.source,
      target: session.target,
      table: table.sql,
      columns: table.columns,
      format: table.format,
      freeze: true,
      signal: this.options.signal,
      onRows: (r, b) => this.tracker.tableProgress(r, b),
    });
    const seconds = this.tracker.endTable(rows, bytes);
    this.results.push({ table: table.name, format: table.format, sourceRows: table.sourceRows, copiedRows: rows, targetRows: -1, bytes, seconds });
  }

  private async rebuildIndexes(target: pg.ClientBase, plan: SyncPlan): Promise<void> {
    for (const table of plan.tables) {
      this.currentTable = `${table.schema}.${table.name}`;
      for (const index of table.indexes) {
        throwIfAborted(this.options.signal);
        const started = Date.now();
        const { serialFallback, outgrewMemory } = await createIndex(target, index);
        if (serialFallback) {
          this.warn(`building ${index.name} with parallel workers ran out of shared memory on the target (a container's /dev/shm, 64 MB by default); `
            + 'built it without workers instead: give the container a larger shm_size (e.g. 1g) or pass --parallel-maintenance-workers=0');
        }
        if (outgrewMemory) {
          this.warn(`${index.name}: ${outgrewMemory}, so the rest of its build was several times slower; next time raise --maintenance-work-mem `
            + `(now ${this.options.maintenanceWorkMem ?? DEFAULTS.maintenanceWorkMem}) if the target has the memory (about 7 kB per 1536-dimension row)`);
        }
        this.tracker.indexBuilt(table.name, index.name, (Date.now() - started) / 1000);
      }
    }
    this.currentTable = undefined;
  }

  /**
   * With FK triggers skipped (replica role) nothing checked the loaded rows, so every FK of the copied tables is
   * checked set-based here; references from tables we do not copy are put back, after a check that names a bad key.
   */
  private async restoreConstraints(target: pg.ClientBase, plan: SyncPlan): Promise<void> {
    if (this.triggerSuppression === 'replica-role') {
      for (const fk of plan.foreignKeys.filter((f) => f.validated)) await this.checkForeignKey(target, fk, 'copied');
    }
    for (const fk of plan.externalReferences) {
      if (fk.validated) await this.checkForeignKey(target, fk, 'kept');
      await addForeignKey(target, fk);
    }
  }

  private async checkForeignKey(target: pg.ClientBase, fk: ForeignKeyInfo, rowsAre: 'copied' | 'kept'): Promise<void> {
    throwIfAborted(this.options.signal);
    const violation = await findForeignKeyViolation(target, fk);
    if (!violation) return;
    const key = Object.entries(violation).map(([column, value]) => `${column}=${value}`).join(', ');
    const table = `${fk.schema}.${fk.table}`;
    const message = rowsAre === 'copied'
      ? `${table} row with ${key} references ${fk.refSchema}.${fk.refTable}, which has no such row on the target (constraint ${fk.name}); copy that table too or fix the source data; the target was rolled back`
      : `${table} (not copied) has a row with ${key} whose ${fk.refTable} row is not in the source (constraint ${fk.name}); it would be left dangling, so nothing was changed — remove or re-point that row first`;
    throw new CopyError(message, { table, constraint: fk.name, details: { key: violation } });
  }

  private async setSequences(session: Session, plan: SyncPlan): Promise<void> {
    for (const table of plan.tables) {
      for (const sequence of table.sequences) {
        // The source's own sequence may be ahead of max(id) (deleted rows); follow it so ids are never reused.
        const sourceLast = await readSequenceState(session.source, sequence.sequence).catch(() => undefined);
        await setSequence(session.target, sequence.sequence, table.sql, sequence.column, sourceLast);
      }
    }
  }

  /** Compares every row of the source snapshot with the target's uncommitted rows; any difference rolls back. */
  private async verifyChecksums(session: Session, plan: SyncPlan): Promise<void> {
    await useCanonicalTextOutput(session.source);
    await useCanonicalTextOutput(session.target);
    this.checksumResults = [];
    this.tracker.restartCounting();
    for (const table of plan.tables) {
      throwIfAborted(this.options.signal);
      this.currentTable = `${table.schema}.${table.name}`;
      this.tracker.startTable(table.name, table.sourceRows);
      const result = await compareTable(session.source, session.target, specFromPlan(table), this.options.sampleLimit ?? 10,
        (compared) => this.tracker.tableProgress(compared, 0));
      this.tracker.endTable(result.sourceRows, 0);
      this.checksumResults.push(result);
    }
    this.currentTable = undefined;
    const differences = this.checksumResults.filter((r) => !r.equal);
    if (differences.length > 0) throw checksumError(differences);
  }

  private async verifyCounts(target: pg.ClientBase, plan: SyncPlan): Promise<void> {
    const mismatches: string[] = [];
    for (const [index, table] of plan.tables.entries()) {
      throwIfAborted(this.options.signal);
      const result = this.results[index];
      if (!result) continue;
      result.targetRows = await countRows(target, table.sql);
      if (result.targetRows !== table.sourceRows || result.copiedRows !== table.sourceRows) {
        mismatches.push(`${table.schema}.${table.name}: source ${table.sourceRows}, copied ${result.copiedRows}, target ${result.targetRows}`);
      }
    }
    if (mismatches.length > 0) {
      throw new VerificationError(
        `row counts differ after copying (${mismatches[0]}${mismatches.length > 1 ? ` and ${mismatches.length - 1} more` : ''}); the target was rolled back`,
        { table: mismatches[0]?.split(':')[0], details: { mismatches } },
      );
    }
  }
}

/** Puts the checksum comparison's differences into one line and the error's details. */
function checksumError(differences: TableComparison[]): VerificationError {
  const first = differences[0];
  const parts = first ? [
    first.onlyOnSource.count ? `${first.onlyOnSource.count} missing on the target (e.g. ${first.onlyOnSource.keys[0]})` : '',
    first.onlyOnTarget.count ? `${first.onlyOnTarget.count} extra on the target (e.g. ${first.onlyOnTarget.keys[0]})` : '',
    first.differing.count ? `${first.differing.count} differing (e.g. ${first.differing.keys[0]})` : '',
    first.method === 'aggregate' ? 'contents differ' : '',
  ].filter(Boolean).join(', ') : '';
  return new VerificationError(
    `row contents differ after copying: ${first?.table ?? '?'} has ${parts}${differences.length > 1 ? `, and ${differences.length - 1} more table(s) differ` : ''}; the target was rolled back`,
    { table: first?.table, details: { differences } },
  );
}

/** Copies the selected tables from source to target in one atomic step. Resolves when committed. */
export async function sync(options: SyncOptions): Promise<SyncResult> {
  try {
    return await new SyncRun(options).execute();
  } catch (error) {
    throw asSyncError(error, 'sync', options.signal);
  }
}
