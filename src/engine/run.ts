// One run, as its steps: read the plan, inspect the target, decide every table's load, then (unless it is a plan
// or a preview, which stop there and roll back) confirm, write in one target transaction, verify and commit.

import type pg from 'pg';
import { optionNamed, phrase, wordPhrase, type Phrase } from '../advice.js';
import { CancelledError, CommitUnconfirmedError, CopyError, type ArchonSyncError } from '../errors.js';
import { runBatch } from '../pg/batch.js';
import { catalogFrom, catalogStatement, countRowsStatement, countsFrom, type ForeignKeyInfo } from '../pg/catalog.js';
import { readServerMark, serverMarkFrom, serverMarkStatement, type ServerMark } from '../pg/change-marks.js';
import {
  addForeignKeyStatement, disableTriggerStatement, dropForeignKeyStatement, dropIndexesStatement, lockTablesStatement, restoreTriggerStatement,
  runStatements, truncateStatement,
} from '../pg/ddl.js';
import { findForeignKeyViolation } from '../pg/foreign-key-check.js';
import { quoteTable } from '../pg/quote.js';
import { advanceSequences } from '../pg/sequences.js';
import { findLockHolder } from '../pg/lock-holders.js';
import type { PrivilegeQuestions, Privileges } from '../pg/privileges.js';
import { causeOfServerError } from '../pg/server-errors.js';
import { Stalled } from '../pg/stall-watch.js';
import { inspectTarget } from '../pg/target-facts.js';
import { syncLockHeld, targetTransactionFrom, targetTransactionStatements, type TargetTransactionOptions } from '../pg/transactions.js';
import type { HistoryOptions, PreviewedPlan, SyncPhase, SyncPlan, SyncResult, TableComparison, TableResult, TriggerSuppression } from '../types.js';
import { checksumError, compareTables, countMismatchError } from './checks.js';
import { boundedCommit, type CommitOutcome } from './bounded-commit.js';
import { Session } from './connections.js';
import type { CostTable } from './cost-model.js';
import { decideLoads, targetQuestions, type Decisions, type TargetRows } from './decide.js';
import { asSyncError, lockTimeoutError, stallError, type Locking } from './failure.js';
import { HistoryRecorder, newSyncId } from './history.js';
import { runApplicationName } from '../pg/history-statements.js';
import { completedFields, failedFields, progressFields } from './history-fields.js';
import { rebuildIndexes } from './index-rebuild.js';
import type { ResolvedOptions } from './options.js';
import { loadsFor, previewed } from './preview.js';
import { privilegeQuestions, refuseMissingPrivileges, refuseReadOnly } from './privilege-check.js';
import { ProgressTracker } from './progress-tracker.js';
import { openSourceSnapshot, planFrom } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';
import { IncrementalLoad } from './incremental.js';
import { Sidecar } from './sidecar.js';
import { StreamProgress } from './stream-progress.js';
import { changesNoRow, type TableLoad } from './table-load.js';
import { buildWatermark, marksReadable, type Marks, type Watermark } from './watermark.js';
import { RunBackup, type RunFacts } from './backup/run-backup.js';
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
  /** The target's mark read with the final counts, after every write: the watermark's. */
  private endMark: ServerMark | undefined;
  private comparedInFull: Record<string, string> = {};
  private commitOutcome: CommitOutcome = 'committed';
  /** The `completed` row was written in COMMIT's message (unless its standby did not confirm it, that is the outcome). */
  private outcomeRecorded = false;
  /** What the target's role may do, asked while inspecting it, judged once the loads are decided. */
  private privileges: { questions: PrivilegeQuestions; answers: Privileges | undefined } | undefined;
  /** Set while a statement that takes table locks runs: a lock timeout then names what and whom it waited for. */
  private locking: Locking | undefined;
  /** Aborted when the run fails: a confirmation still being asked is then moot. */
  private readonly ended = new AbortController();
  /** The old rows this run replaces, kept on this machine for undo (src/engine/backup). */
  private readonly backup: RunBackup;
  /** No load changed a row: the history row says so, and an undo of an earlier run is not refused for this one. */
  private changedNothing = false;
  /** The target's rows per table and its mark, read in the diff's message (before any write). */
  private beforeWrites: { counts: number[]; mark: ServerMark | undefined } | undefined;

  constructor(private readonly options: ResolvedOptions, private readonly stopAt: StopAt) {
    this.backup = new RunBackup(options.backup);
    this.tracker = new ProgressTracker((event) => {
      options.onEvent(event);
      if (event.type !== 'warning' && event.type !== 'plan' && event.type !== 'trigger-mode') this.history?.update(progressFields(event));
    });
  }

  /** What a failure says it was doing, for its one line. */
  private get step(): string {
    if (this.locking) return 'locking';
    return this.stopAt === 'commit' ? STEP_NAMES[this.tracker.phase] : 'planning';
  }

  async execute(): Promise<RunOutcome> {
    const { options } = this;
    const history = this.stopAt === 'commit' && options.history ? options.history : undefined;
    const syncId = history ? history.syncId ?? newSyncId(new Date(this.started)) : undefined;
    const session = await Session.open(options, syncId ? runApplicationName(syncId) : undefined);
    const stopCancelling = session.cancelOnAbort(options.signal);
    const sidecars = this.openSidecars(session);
    try {
      const start = history && syncId ? { history, syncId, sidecar: sidecars.target } : undefined;
      const outcome = await session.guard(this.steps(session, sidecars.target, start));
      if (outcome.stoppedAt !== 'commit') await session.release();
      else if (this.commitOutcome === 'unconfirmed') throw await this.unconfirmed(session, outcome.result);
      else if (!this.outcomeRecorded) await this.history?.finish(session.target, completedFields(outcome.result, this.checksums));
      return outcome;
    } catch (error) {
      if (error instanceof CommitUnconfirmedError) {
        // Stuck in COMMIT even when cancelled: end the backend (its locks with it); its row stays `running` for the
        // next run to settle from txid_status.
        if (error.failure === 'commit-unknown') await session.abandon('target');
        throw error;
      }
      this.ended.abort();
      if (error instanceof Stalled) await this.stalled(session, error);
      // The pooler's FATAL names no side; the connection it closes does.
      const lostSide = causeOfServerError(error) === 'pool-exhausted' ? await session.lostSideWithin(500) : session.lostSide();
      let typed = asSyncError(error, {
        step: this.step, table: this.currentTable, signal: options.signal, stall: this.stall, lostSide,
        endpoints: { source: options.sourceEndpoint.label, target: options.targetEndpoint.label },
        outcome: this.stopAt === 'commit' ? 'the target was rolled back' : 'nothing was changed',
      });
      await session.release();
      if (causeOfServerError(error) === 'lock-timeout' && this.locking && !this.stall) typed = await this.lockTimedOut(session, error, this.locking);
      await this.backup.failed();
      await this.history?.finish(session.usable('target') ? session.target : undefined,
        failedFields(typed, this.results, this.started, this.checksums, options.wording));
      throw typed;
    } finally {
      sidecars.source.close();
      sidecars.target.close();
      stopCancelling();
      await session.close();
    }
  }

  /**
   * The run committed on the target, but its COMMIT was cancelled in its wait for the synchronous standby: the row
   * says completed, with that fact; the caller gets its own error (the CLI: exit 6).
   */
  private async unconfirmed(session: Session, result: SyncResult): Promise<CommitUnconfirmedError> {
    const error = new CommitUnconfirmedError(phrase`committed on the target ${this.options.targetEndpoint.label}, but its synchronous standby did not confirm ${
      ''}the commit within ${Math.round(this.options.commitTimeoutMs / 1000)} s (${optionNamed('commitTimeoutMs')}): the data is there and visible, and may be lost ${
      ''}if the primary fails before the standby catches up; check the standby (synchronous_standby_names)`, {
      failure: 'commit-unconfirmed', result, details: { step: 'commit' },
    });
    await this.history?.finish(session.target, {
      ...completedFields(result, this.checksums),
      error_message: error.describe(this.options.wording),
      metadata: { commit: 'committed locally; not confirmed by the synchronous standby' },
    });
    return error;
  }

  /** A lock timeout, naming the session that holds the lock: read on the side's own connection, now rolled back. */
  private async lockTimedOut(session: Session, error: unknown, locking: Locking): Promise<ArchonSyncError> {
    const holder = session.usable(locking.side)
      ? await findLockHolder(session.client(locking.side), locking.tables, locking.mode).catch(() => undefined)
      : undefined;
    return lockTimeoutError(error, locking, holder, this.options.lockTimeoutMs, this.stopAt === 'commit' ? 'the target was rolled back' : 'nothing was changed');
  }

  /** Each side's sidecar (probe, live progress, index progress), connecting in the background. */
  private openSidecars(session: Session): Record<'source' | 'target', Sidecar> {
    const { options } = this;
    const open = (side: 'source' | 'target') => Sidecar.open({
      uri: session.uri(side), side, label: (side === 'source' ? options.sourceEndpoint : options.targetEndpoint).label,
      connectTimeoutMs: options.connectTimeoutMs, stallTimeoutMs: options.stallTimeoutMs,
      pooled: () => session.pooled(side), onStall: (stall) => void this.stalled(session, stall), warn: (message) => this.warn(message),
    });
    return { source: open('source'), target: open('target') };
  }

  /** The steps, in order; a plan and a preview stop before the first write. */
  private async steps(session: Session, sidecar: Sidecar, start: HistoryStartInput | undefined): Promise<RunOutcome> {
    const plan = await this.validate(session, start);
    const rows = await this.inspectTarget(session, plan);
    if (this.stopAt === 'plan') return { stoppedAt: 'plan', plan };
    this.history?.update({ total_rows: plan.totalRows });
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
    if (this.privileges) refuseMissingPrivileges(this.privileges.answers, this.privileges.questions, plan, loads, plan.target.user);
    await this.confirm(decided);
    return { stoppedAt: 'commit', result: await this.write(session, decided, loads, sidecar) };
  }

  /** The target transaction's writes, as its steps, then the checks and COMMIT. */
  private async write(session: Session, plan: PreviewedPlan, loads: TableLoad[], sidecar: Sidecar): Promise<SyncResult> {
    this.enterPhase('copy');
    this.tracker.setPlan(loads.map((load) => workOf(load)), { verify: this.options.verify });
    this.changedNothing = changesNoRow(loads);
    await this.backup.keep(session.target, plan, loads, this.backupFacts());
    await this.prepareTarget(session.target, plan, loads);
    await IncrementalLoad.removeStaleRows(session, loads);
    for (const load of loads) await this.loadTable(session, load);
    this.enterPhase('indexing');
    await rebuildIndexes(loads, {
      session, sidecar, options: this.options, tracker: this.tracker, warn: (message) => this.warn(message), onTable: (table) => { this.currentTable = table; },
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
    // The sync goes by the same weights once its tables are locked (RunBackup.keep), and warns or refuses there.
    plan.preview.backup = await this.backup.weigh(session.target, loads);
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

  /**
   * Opens the target transaction, takes the one-sync-at-a-time lock (shared by previews) and reads the target's
   * catalog once it holds it, in one message; meanwhile the source's snapshot opens with its catalog and row counts
   * in another. Then builds the plan.
   */
  private async validate(session: Session, start: HistoryStartInput | undefined): Promise<SyncPlan> {
    const { options } = this;
    this.tracker.setPhase('validation');
    const lock = this.stopAt === 'commit' ? 'exclusive' : 'shared';
    const settings: TargetTransactionOptions = {
      lockTimeoutMs: options.lockTimeoutMs,
      maintenanceWorkMem: options.maintenanceWorkMem,
      maxParallelMaintenanceWorkers: options.maxParallelMaintenanceWorkers,
      lock,
      then: [catalogStatement(options.schema, options.tables, syncLockHeld(lock))],
    };
    // Both settled before going on: a failure of one side must not hide a history row the other just wrote.
    const [target, opened] = await Promise.allSettled([
      start ? this.startHistory(session, start, targetTransactionStatements(settings)) : runBatch(session.target, targetTransactionStatements(settings)),
      openSourceSnapshot(session.source, options.schema, options.tables, options.lockTimeoutMs, options.sourceEndpoint.label),
    ]);
    if (target.status === 'rejected') throw target.reason;
    if (opened.status === 'rejected') {
      // The source's LOCK TABLE is the one statement here that waits: its timeout names what it waited for.
      if (causeOfServerError(opened.reason) === 'lock-timeout') {
        this.locking = { side: 'source', mode: 'ACCESS SHARE', tables: options.tables.map((t) => quoteTable(options.schema, t)) };
      }
      throw opened.reason;
    }
    const begun = targetTransactionFrom(target.value, settings);
    const source = opened.value;
    session.targetPid = begun.backendPid;
    session.sourcePid = source.catalog.server.backendPid;
    this.targetXid = begun.xid;
    this.targetBegun = begun.snapshot;
    this.historyReadable = begun.historyReadable;
    // A running sync holds locks the catalog reads would queue behind: they were not read, and the refusal says so.
    await refuseIfAnotherRun(session.target, begun.lockIsFree);
    const targetCatalog = catalogFrom(begun.then[0]);
    if (!targetCatalog) throw new Error('the catalog query returned no row');
    const plan = planFrom(options, source, targetCatalog);
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
    // A sync asks in the same message what the role may do there; the answer is judged once the loads are decided.
    const privileges = this.stopAt === 'commit' ? privilegeQuestions(plan) : undefined;
    const facts = await inspectTarget(session.target, options.triggerSuppression !== 'disable-triggers', (replicaRole) => {
      asked = targetQuestions(plan, options.mode, replicaRole);
      return { ...asked.questions, privileges };
    });
    if (privileges) {
      refuseReadOnly(facts.privileges, plan.target.user, options.targetEndpoint.label);
      this.privileges = { questions: privileges, answers: facts.privileges };
    }
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
    let compareProgress = new StreamProgress(this.tracker, [], () => undefined);
    // A sync also counts the target's rows, and reads its mark, in the diff's message: when the run then writes
    // nothing, they are the final counts and the watermark's mark, one round trip less (countTargetRows).
    const tables = plan.tables.map((t) => t.sql);
    const alongside = this.stopAt === 'commit' && tables.length > 0 ? [countRowsStatement(tables), ...(this.recordsWatermark(plan) ? [serverMarkStatement()] : [])] : [];
    const decisions = await decideLoads({
      session, plan, options: this.options, rows, historyReadable: this.historyReadable, alongside,
      observer: {
        comparing: (candidates) => {
          this.locking = { side: 'target', mode: 'SHARE ROW EXCLUSIVE', tables: candidates.map((t) => t.sql) };
          // The comparison in the estimate too, so the percent and ETA move while digests stream.
          this.tracker.setPlan(plan.tables, { verify: this.options.verify, diff: candidates });
          this.enterPhase('compare');
          compareProgress = new StreamProgress(this.tracker, candidates, (table) => { this.currentTable = table; });
        },
        streaming: (rowsByTable, bytes) => {
          // Digests stream once every lock is held: a lock timeout can no longer happen here.
          this.locking = undefined;
          compareProgress.streaming(rowsByTable, bytes);
        },
        compared: (rowsByTable, bytes) => compareProgress.ended(rowsByTable, bytes),
      },
    });
    this.currentTable = undefined;
    this.locking = undefined;
    if (decisions.alongside && alongside.length > 0) {
      this.beforeWrites = { counts: countsFrom(decisions.alongside[0], tables), mark: decisions.alongside[1] ? serverMarkFrom(decisions.alongside[1]) : undefined };
    }
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
    const locked = [...new Set([...full.map((t) => t.sql), ...outside])];
    this.locking = { side: 'target', mode: 'ACCESS EXCLUSIVE', tables: locked };
    await runStatements(target, [
      ...lockTablesStatement(locked, 'ACCESS EXCLUSIVE'),
      ...this.triggersToSilence(plan).map(disableTriggerStatement),
      ...setAside.map(dropForeignKeyStatement),
      ...dropIndexesStatement(loads.flatMap((load) => load.indexesToDrop())),
      ...loads.flatMap((load) => load.prepareStatements()),
      ...truncateStatement(loads.filter((load) => load.truncates).map((load) => load.table.sql)),
    ]);
    this.locking = undefined;
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
    const targetRows = await this.countTargetRows(session, plan);
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
   * The target transaction id and the watermark (the target's snapshot now, after every write, and the source's)
   * go into the history row inside the transaction, in the COMMIT's own message: they are there exactly when the
   * data is, so a later run can settle a row left `running` and trust the watermark.
   */
  private async commit(session: Session, plan: PreviewedPlan): Promise<void> {
    throwIfAborted(this.options.signal);
    const watermark = await this.watermark(session, plan);
    // Flushed before COMMIT: a committed run always has its backup.
    await this.backup.seal();
    await this.history?.stopProgress();
    const edits = plan.preview.targetEdits;
    const facts = this.history?.inTransaction({
      metadata: {
        ...this.historyMetadata(this.results.map((r) => r.table), plan.skippedTables), target_xid: this.targetXid,
        ...(editCount(edits) > 0 || edits.untold.length > 0 ? { target_edits: edits } : {}),
        ...(this.backup.kept ? { backup: true } : {}),
        ...(this.changedNothing ? { changed_nothing: true } : {}),
        ...(this.comparedSince ? { compared_since: this.comparedSince } : {}), ...(watermark ? { watermark } : {}),
        ...(Object.keys(this.comparedInFull).length > 0 ? { compared_in_full: this.comparedInFull } : {}),
      },
    });
    // The outcome row in COMMIT's own message, in a short transaction after it: what the run returns once committed.
    const durations = { ...this.durations, total: (Date.now() - this.started) / 1000 };
    const bytes = this.results.reduce((s, t) => s + t.bytes, 0);
    const outcome = this.history?.outcomeStatements(completedFields({ tables: this.results, durations, bytes }, this.checksums)) ?? [];
    const committed = await boundedCommit(session, facts ? [facts] : [], this.options.commitTimeoutMs, this.options.targetEndpoint.label, outcome);
    this.commitOutcome = committed.outcome;
    this.outcomeRecorded = outcome.length > 0 && committed.afterDone;
    // Committed on the target, confirmed by a standby or not: the backup now belongs to a committed run.
    await this.backup.committed((message) => this.warn(message));
    this.durations.total = (Date.now() - this.started) / 1000;
    this.enterPhase('verification');
  }

  private async watermark(session: Session, plan: SyncPlan): Promise<Watermark | undefined> {
    if (!this.recordsWatermark(plan)) return undefined;
    // The source snapshot is the transaction's (repeatable read): read once is read for the run.
    const [source, target] = await Promise.all([this.marks?.source ?? readServerMark(session.source), this.endMark ?? readServerMark(session.target)]);
    return buildWatermark(source, target, this.targetXid, this.targetBegun, plan.tables);
  }

  private recordsWatermark(plan: SyncPlan): boolean {
    return this.history?.recording === true && marksReadable(plan.source) && marksReadable(plan.target);
  }

  /**
   * The target's rows per table after every write, and with them, in the same message, the target's mark for
   * the watermark (its snapshot after every write): one round trip for both.
   */
  private async countTargetRows(session: Session, plan: SyncPlan): Promise<number[]> {
    const tables = plan.tables.map((t) => t.sql);
    const withMark = this.recordsWatermark(plan);
    // Nothing written, every table locked since before the diff's message: its counts and mark are the final ones.
    if (this.changedNothing && this.beforeWrites && (!withMark || this.beforeWrites.mark)) {
      this.endMark = this.beforeWrites.mark;
      return this.beforeWrites.counts;
    }
    const replies = await runBatch(session.target, [...(tables.length > 0 ? [countRowsStatement(tables)] : []), ...(withMark ? [serverMarkStatement()] : [])]);
    if (withMark) this.endMark = serverMarkFrom(replies.at(-1));
    return tables.length > 0 ? countsFrom(replies[0], tables) : [];
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

  /**
   * The run's row, in its own short transaction on the run's connection, in the message that then begins the run's
   * transaction (`begin`): whatever happens next is recorded. Resolves with the replies to `begin`.
   */
  private async startHistory(session: Session, { history, syncId, sidecar }: HistoryStartInput, begin: readonly string[]): Promise<pg.QueryResult[]> {
    const started = await HistoryRecorder.start(session.target, {
      syncId,
      direction: history.direction,
      triggeredBy: history.triggeredBy ?? 'library',
      sourceDb: history.sourceDb,
      targetDb: history.targetDb,
      metadata: this.historyMetadata([], []),
      // Named after the id actually written, in the same block, should another run have taken this second's.
      namesConnection: true,
    }, (statements) => sidecar.query(statements.join(';\n')), (message) => this.warn(message), begin);
    this.history = started.recorder;
    if ('error' in started) throw started.error;
    return started.then;
  }
}

/** What starting a run's history row takes. */
interface HistoryStartInput {
  history: HistoryOptions;
  syncId: string;
  /** The target's sidecar: where live progress goes. */
  sidecar: Sidecar;
}

/** What the progress cost model should expect of a load: an incremental one moves only its changed rows, builds nothing. */
function workOf(load: TableLoad): CostTable {
  if (load.mode === 'full') return load.table;
  const share = load.rowsToCopy / Math.max(1, load.table.sourceRows);
  return { name: load.table.name, sourceRows: load.rowsToCopy, sourceBytes: load.table.sourceBytes * share, indexes: [] };
}

