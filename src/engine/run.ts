// One run, as its steps: read the plan, inspect the target, decide every table's load, then (unless it is a plan
// or a preview, which stop there and roll back) confirm, write in one target transaction, verify and commit.

import type pg from 'pg';
import { wordPhrase, type Phrase } from '../advice.js';
import { CancelledError, CopyError, type ArchonSyncError } from '../errors.js';
import { countRows, type ForeignKeyInfo } from '../pg/catalog.js';
import { readServerMark } from '../pg/change-marks.js';
import { connect } from '../pg/connect.js';
import {
  addForeignKeyStatement, disableTriggerStatement, dropForeignKeyStatement, dropIndexesStatement, lockTablesStatement, restoreTriggerStatement,
  runStatements, truncateStatement,
} from '../pg/ddl.js';
import { findForeignKeyViolation } from '../pg/foreign-key-check.js';
import { quoteTable } from '../pg/quote.js';
import { advanceSequences } from '../pg/sequences.js';
import { Stalled } from '../pg/stall-watch.js';
import { inspectTarget } from '../pg/target-facts.js';
import { beginTargetTransaction, commit } from '../pg/transactions.js';
import type { HistoryOptions, PreviewedPlan, SyncPhase, SyncPlan, SyncResult, TableComparison, TableResult, TriggerSuppression } from '../types.js';
import { checksumError, compareTables, countMismatchError } from './checks.js';
import { Session } from './connections.js';
import type { CostTable } from './cost-model.js';
import { decideLoads, targetQuestions, type Decisions, type TargetRows } from './decide.js';
import { asSyncError, stallError } from './failure.js';
import { HistoryRecorder, newSyncId } from './history.js';
import { completedFields, failedFields, progressFields } from './history-fields.js';
import { rebuildIndexes } from './index-rebuild.js';
import type { ResolvedOptions } from './options.js';
import { loadsFor, previewed } from './preview.js';
import { ProgressTracker } from './progress-tracker.js';
import { readPlan } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';
import { ServerProbe } from './server-probe.js';
import type { TableLoad } from './table-load.js';
import { buildWatermark, marksReadable, type Marks, type Watermark } from './watermark.js';
import { RunBackup, weighLoads, type RunFacts } from './backup/run-backup.js';
import { refuseUnsafe } from './safety-checks.js';
import { editCount, untoldPhrase } from './target-edits.js';

/**
 * Where a run stops: `plan` once the plan and the target's facts are read, `preview` once every table's load is
 * decided (both roll back, having written nothing), `commit` at the end of a sync.
 */
export type StopAt = 'plan' | 'preview' | 'commit';

export type RunOutcome =
  | { stoppedAt: 'plan'; plan: SyncPlan }
  | { stoppedAt: 'preview'; plan: PreviewedPlan }
  | { stoppedAt: 'commit'; result: SyncResult };

const STEP_NAMES: Record<SyncPhase, string> = { validation: 'validation', compare: 'comparison', copy: 'copy', indexing: 'index rebuild', verification: 'verification' };

/** The state of one run, so each step is a small method and the error path sees everything that was done. */
export class Run {
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
  /** The target snapshot as the run's transaction began: the horizon the next run judges the target's catalog rows by. */
  private targetBegun = '';
  private historyReadable = false;
  /** Foreign keys of outside tables dropped for the load, put back before COMMIT. */
  private setAside: ForeignKeyInfo[] = [];
  /** Both sides' identity and snapshot, once read: the source's goes into this run's watermark. */
  private marks: Marks | undefined;
  private comparedSince: string | undefined;
  private comparedInFull: Record<string, string> = {};
  /** Aborted when the run fails: a confirmation still being asked is then moot. */
  private readonly ended = new AbortController();
  /** The old rows this run replaces, kept on this machine for undo (src/engine/backup). */
  private readonly backup: RunBackup;

  constructor(private readonly options: ResolvedOptions, private readonly stopAt: StopAt) {
    this.backup = new RunBackup(options.backup);
    this.tracker = new ProgressTracker((event) => {
      options.onEvent(event);
      if (event.type !== 'warning' && event.type !== 'plan' && event.type !== 'trigger-mode') this.history?.update(progressFields(event));
    });
  }

  /** What a failure says it was doing, for its one line. */
  private get step(): string {
    return this.stopAt === 'commit' ? STEP_NAMES[this.tracker.phase] : 'planning';
  }

  async execute(): Promise<RunOutcome> {
    const { options } = this;
    const session = await Session.open(options);
    const stopCancelling = session.cancelOnAbort(options.signal);
    const probes = options.stallTimeoutMs > 0
      ? (['source', 'target'] as const).map((side) => ServerProbe.start(session.uri(side), side, options.stallTimeoutMs, options.connectTimeoutMs,
        (stall) => void this.stalled(session, stall)))
      : [];
    try {
      const outcome = await session.guard(this.steps(session));
      if (outcome.stoppedAt === 'commit') await this.history?.finish(completedFields(outcome.result, this.checksums));
      else await session.release();
      return outcome;
    } catch (error) {
      this.ended.abort();
      if (error instanceof Stalled) await this.stalled(session, error);
      const typed = asSyncError(error, {
        step: this.step, table: this.currentTable, signal: options.signal, stall: this.stall, lostSide: session.lostSide(),
        outcome: this.stopAt === 'commit' ? 'the target was rolled back' : 'nothing was changed',
      });
      await session.release();
      await this.backup.failed();
      await this.history?.finish(failedFields(typed, this.results, this.started, this.checksums, options.wording));
      throw typed;
    } finally {
      for (const probe of probes) probe.stop();
      stopCancelling();
      await this.history?.close();
      await session.close();
    }
  }

  /** The steps, in order; a plan and a preview stop before the first write. */
  private async steps(session: Session): Promise<RunOutcome> {
    const plan = await this.validate(session);
    const rows = await this.inspectTarget(session, plan);
    if (this.stopAt === 'plan') return { stoppedAt: 'plan', plan };
    // The run's own log starts once the plan holds, so a failure while comparing is recorded; a preview writes none.
    if (this.stopAt === 'commit' && this.options.history) await this.startHistory(this.options.history, plan);
    const decisions = await this.decide(session, plan, rows);
    const loads = loadsFor(plan, decisions);
    const decided = previewed(plan, loads, decisions, {
      mode: this.options.mode, triggerSuppression: this.triggerSuppression, maxDeleteShare: this.options.maxDeleteShare, targetChanges: this.options.targetChanges,
    });
    await this.weighBackup(session, decided, loads);
    if (decided.preview.targetEdits.untold.length > 0) this.warn(untoldPhrase(decided.preview.targetEdits));
    if (this.stopAt === 'preview') return { stoppedAt: 'preview', plan: decided };
    // Refusals come before the question: nobody is asked to confirm what would be refused anyway.
    refuseUnsafe(decided, this.options);
    await this.confirm(decided);
    return { stoppedAt: 'commit', result: await this.write(session, decided, loads) };
  }

  /** The target transaction's writes, as its steps, then the checks and COMMIT. */
  private async write(session: Session, plan: PreviewedPlan, loads: TableLoad[]): Promise<SyncResult> {
    this.enterPhase('copy');
    this.tracker.setPlan(loads.map((load) => workOf(load)), { verify: this.options.verify });
    await this.backup.keep(session.target, plan, loads, this.backupFacts());
    await this.prepareTarget(session.target, plan, loads);
    for (const load of [...loads].reverse()) await load.removeStale?.(session);
    for (const load of loads) await this.loadTable(session, load);
    this.enterPhase('indexing');
    await rebuildIndexes(loads, {
      session, options: this.options, tracker: this.tracker, warn: (message) => this.warn(message), onTable: (table) => { this.currentTable = table; },
    });
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
      verify: this.options.verify,
      comparedSince: this.comparedSince,
      comparedInFull: this.comparedInFull,
      durations: this.durations,
      bytes: this.results.reduce((s, t) => s + t.bytes, 0),
      warnings: this.warnings,
      backup: this.backup.report,
      targetEdits: plan.preview.targetEdits,
    };
  }

  /** What keeping the old rows takes, in the preview (a plan that cannot keep them says so before it starts). */
  private async weighBackup(session: Session, plan: PreviewedPlan, loads: readonly TableLoad[]): Promise<void> {
    if (!this.options.backup.enabled) return;
    // The sync weighs them again once its tables are locked (RunBackup.keep), and warns or refuses there.
    plan.preview.backup = (await weighLoads(session.target, loads, this.options.backup)).estimate;
  }

  /** What the backup's manifest records of this run. */
  private backupFacts(): RunFacts {
    const { options } = this;
    return {
      syncId: this.history?.syncId ?? (options.history ? options.history.syncId : undefined) ?? newSyncId(new Date(this.started)),
      targetXid: this.targetXid,
      sourceLabel: options.sourceEndpoint.label,
      targetLabel: options.targetEndpoint.label,
      history: options.history ? { direction: options.history.direction, sourceDb: options.history.sourceDb, targetDb: options.history.targetDb } : undefined,
      signal: options.signal,
      warn: (message) => this.warn(message),
    };
  }

  /** Opens the target transaction, takes the one-sync-at-a-time lock (shared by previews) and reads the plan. */
  private async validate(session: Session): Promise<SyncPlan> {
    const { options } = this;
    this.tracker.setPhase('validation');
    const begun = await beginTargetTransaction(session.target, {
      lockTimeoutMs: options.lockTimeoutMs,
      maintenanceWorkMem: options.maintenanceWorkMem,
      maxParallelMaintenanceWorkers: options.maxParallelMaintenanceWorkers,
      lock: this.stopAt === 'commit' ? 'exclusive' : 'shared',
    });
    session.targetPid = begun.backendPid;
    this.targetXid = begun.xid;
    this.targetBegun = begun.snapshot;
    this.historyReadable = begun.historyReadable;
    // A running sync holds locks the catalog reads would queue behind: say so at once instead.
    await refuseIfAnotherRun(session.target, begun.lockIsFree);
    const plan = await readPlan(session, options);
    this.tracker.totalRows = plan.totalRows;
    throwIfAborted(options.signal);
    return plan;
  }

  /**
   * Tries the replica role and reads what the target holds (rows per table, rows of outside tables that reference
   * ours) in one message; the plan's warnings are complete from here.
   */
  private async inspectTarget(session: Session, plan: SyncPlan): Promise<TargetRows> {
    const { options } = this;
    let asked: ReturnType<typeof targetQuestions> | undefined;
    const facts = await inspectTarget(session.target, options.triggerSuppression !== 'disable-triggers', (replicaRole) => {
      asked = targetQuestions(plan, options.mode, replicaRole);
      return asked.questions;
    });
    this.triggerSuppression = facts.replicaRole ? 'replica-role' : 'disabled-triggers';
    plan.externalReferences.forEach((fk, i) => {
      if (!facts.referenced[i]) return;
      plan.warnings.push(`${fk.schema}.${fk.table} (not copied) references ${fk.refTable} through ${fk.name}; its rows are kept, and checked after loading whenever ${fk.refTable} changed`);
    });
    for (const warning of plan.warnings) this.warn(warning);
    options.onEvent({ type: 'plan', plan });
    options.onEvent({ type: 'trigger-mode', mode: this.triggerSuppression });
    this.tracker.totalIndexes = plan.tables.reduce((sum, t) => sum + t.indexes.length, 0);
    return {
      replicaRole: facts.replicaRole,
      counted: new Map((asked?.counted ?? []).map((t, i) => [t, facts.counts[i] ?? 0])),
      hasRows: new Map((asked?.exists ?? []).map((t, i) => [t, facts.exists[i] ?? false])),
    };
  }

  /** Every table's load, decided by decideLoads (the comparison runs as this run's `compare` phase). */
  private async decide(session: Session, plan: SyncPlan, rows: TargetRows): Promise<Decisions> {
    const decisions = await decideLoads({
      session, plan, options: this.options, rows, historyReadable: this.historyReadable,
      observer: {
        comparing: (candidates) => {
          // The comparison in the estimate too, so the percent and ETA move while digests stream.
          this.tracker.setPlan(plan.tables, { verify: this.options.verify, diff: candidates });
          this.enterPhase('compare');
        },
        tableStarted: (table) => {
          this.currentTable = `${table.schema}.${table.name}`;
          this.tracker.startTable(table.name, table.sourceRows, table.format);
        },
        tableProgress: (r, b) => this.tracker.tableProgress(r, b),
        tableCompared: (diff) => { this.tracker.endTable(diff.sourceRows, diff.bytes); },
      },
    });
    this.currentTable = undefined;
    this.marks = decisions.marks;
    this.comparedSince = decisions.comparedSince;
    this.comparedInFull = decisions.comparedInFull;
    if (this.options.mode === 'incremental') {
      for (const decision of decisions.tables) {
        if (decision.mode === 'full' && decision.reason !== 'empty on the target') this.warn(`${decision.table.schema}.${decision.table.name} is copied in full: ${decision.reason ?? ''}`);
      }
    }
    throwIfAborted(this.options.signal);
    return decisions;
  }

  /** Asks the caller's confirmation hook, once; a `false` ends the run before anything was written to the tables. */
  private async confirm(plan: PreviewedPlan): Promise<void> {
    const hook = this.options.confirm;
    if (!hook) return;
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, this.ended.signal]) : this.ended.signal;
    const confirmed = await hook(plan, { signal });
    throwIfAborted(this.options.signal);
    if (confirmed !== true) throw new CancelledError('not confirmed; nothing was changed', { failure: 'not-confirmed' });
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
    // The step counts what travels: every row of a full copy, the new and changed rows of an incremental load.
    this.tracker.startTable(table.name, load.rowsToCopy, table.format);
    const loaded = await load.load({
      session,
      signal: this.options.signal,
      stallTimeoutMs: this.options.stallTimeoutMs,
      onRows: (rows, bytes) => this.tracker.tableProgress(rows, bytes),
    });
    const seconds = this.tracker.endTable(loaded.copiedRows, loaded.bytes);
    this.results.push({ ...loaded, targetRows: -1, seconds });
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
      throw new CopyError(message, { table, constraint: fk.name, failure: 'foreign-key', details: { key: violation.key } });
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
      sampleLimit: this.options.sampleLimit,
      signal: this.options.signal,
      stallTimeoutMs: this.options.stallTimeoutMs,
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
  private async commit(session: Session, plan: PreviewedPlan): Promise<void> {
    throwIfAborted(this.options.signal);
    const watermark = await this.watermark(session, plan);
    // Flushed before COMMIT: a committed run always has its backup.
    await this.backup.seal();
    const edits = plan.preview.targetEdits;
    await this.history?.settle({
      metadata: {
        ...this.historyMetadata(this.results.map((r) => r.table), []), target_xid: this.targetXid,
        ...(editCount(edits) > 0 || edits.untold.length > 0 ? { target_edits: edits } : {}),
        ...(this.backup.kept ? { backup: true } : {}),
        ...(this.comparedSince ? { compared_since: this.comparedSince } : {}), ...(watermark ? { watermark } : {}),
        ...(Object.keys(this.comparedInFull).length > 0 ? { compared_in_full: this.comparedInFull } : {}),
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
    return buildWatermark(source, target, this.targetXid, this.targetBegun, plan.tables);
  }

  /** A watch saw a side stop: remember why (the socket error that follows would hide it) and let go of that side. */
  private async stalled(session: Session, stall: Stalled): Promise<void> {
    if (this.stall) return;
    this.stall = stallError(stall, this.step, this.currentTable, this.stopAt === 'commit' ? 'the target was rolled back' : 'nothing was changed');
    await session.abandon(stall.side);
  }

  /** A warning for the caller (as an event) and the result; `phrase` keeps its advice for a front end to word. */
  private warn(message: string | Phrase): void {
    const text = typeof message === 'string' ? [message] : message;
    const worded = wordPhrase(text);
    this.warnings.push(worded);
    this.options.onEvent({ type: 'warning', message: worded, phrase: text });
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
      source: this.options.sourceEndpoint.label,
      target: this.options.targetEndpoint.label,
      tables,
      ...(skipped.length > 0 ? { skipped_tables: skipped } : {}),
      ...(this.targetXid ? { target_xid: this.targetXid } : {}),
    };
  }

  private async startHistory(history: HistoryOptions, plan: SyncPlan): Promise<void> {
    const { options } = this;
    this.history = await HistoryRecorder.start(
      () => connect(options.target, { side: 'target (history)', connectTimeoutMs: options.connectTimeoutMs, applicationName: 'archon-sync-history' }),
      {
        syncId: history.syncId ?? newSyncId(new Date(this.started)),
        direction: history.direction,
        triggeredBy: history.triggeredBy ?? 'library',
        sourceDb: history.sourceDb,
        targetDb: history.targetDb,
        metadata: this.historyMetadata(plan.tables.map((t) => t.name), plan.skippedTables),
      },
      (message) => this.warn(message),
    );
    this.history.update({ total_rows: plan.totalRows });
  }
}

/** What the progress cost model should expect of a load: an incremental one moves only its changed rows, builds nothing. */
function workOf(load: TableLoad): CostTable {
  if (load.mode === 'full') return load.table;
  const share = load.rowsToCopy / Math.max(1, load.table.sourceRows);
  return { name: load.table.name, sourceRows: load.rowsToCopy, sourceBytes: load.table.sourceBytes * share, indexes: [] };
}

