// One sync's backup: the rows its loads will delete or overwrite, streamed from the target into local files before
// any write, sealed (flushed, with its manifest) before COMMIT, noted after it, and discarded when the run rolls back.

import { join } from 'node:path';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { optionNamed, phrase, type Phrase } from '../../advice.js';
import { ValidationError } from '../../errors.js';
import {
  copyDiffKeysOut, copyReplacedRowsOut, copyWholeTableOut, readBackupTableFacts, readSequenceStates, readTargetIdentity, transactionOutcomes,
  type BackupTableFacts,
} from '../../pg/backup-statements.js';
import { lockTablesStatement, runStatements } from '../../pg/ddl.js';
import type { BackupReport, SyncPlan, TablePlan } from '../../types.js';
import { changesNoRow, type Replaced, type TableLoad } from '../table-load.js';
import { marksReadable } from '../watermark.js';
import { estimateBackup, formatBytes, type BackupEstimate, type TableWeight } from './estimate.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type BackupManifest, type BackupTable, type SavedSequence } from './manifest.js';
import type { CompiledBackup } from './options.js';
import { BackupStore, flushFiles, streamToFile, targetKey } from './store.js';

/** What the sync knows of itself that the manifest records. */
export interface RunFacts {
  syncId: string;
  /** The target transaction's id (64-bit, text). */
  targetXid: string;
  sourceLabel: string;
  targetLabel: string;
  history: { direction: 'local-to-remote' | 'remote-to-local'; sourceDb: string; targetDb: string } | undefined;
  signal: AbortSignal | undefined;
  warn: (message: string) => void;
}

// Local file-system failures: the backup cannot be written, which is not the run's fault. Socket errors are not here.
const LOCAL_FILE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'EFBIG', 'EMFILE', 'ENFILE', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP']);

function isLocalFileError(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && LOCAL_FILE_ERRORS.has(code);
}

function fileName(position: number, table: string, suffix: 'rows' | 'keys'): string {
  return `${String(position + 1).padStart(2, '0')}-${table.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60)}.${suffix}`;
}

/** The weight of each load's old rows, for the estimate. */
function weights(loads: readonly { load: TableLoad; replaced: Replaced; facts: BackupTableFacts }[]): TableWeight[] {
  return loads.flatMap(({ load, replaced, facts }): TableWeight[] => {
    if (replaced.kind === 'none') return [];
    return [{
      table: load.table.name,
      mode: replaced.kind === 'all' ? 'full' : 'incremental',
      // An empty table still has its pages (pg_table_size); none of its rows are kept, since there are none.
      targetBytes: replaced.rowsBefore === 0 ? 0 : facts.bytes,
      targetRows: replaced.rowsBefore,
      replacedRows: replaced.kind === 'keys' ? replaced.replacedRows : 0,
    }];
  });
}

/**
 * What keeping the old rows of `loads` takes, and whether it fits: the one estimate behind the preview's
 * cannot-keep line and the sync's decision, from the same loads.
 */
export async function weighLoads(target: pg.ClientBase, loads: readonly TableLoad[], limits: { dir: string; limitBytes: number }) {
  const facts = await readBackupTableFacts(target, loads.map((load) => load.table.sql));
  const parts = loads.map((load, i) => ({ load, replaced: load.replaces(), facts: facts[i] as BackupTableFacts }));
  return { parts, estimate: await estimateBackup(weights(parts), limits, false) };
}

/** Why a run cannot keep its old rows and what changes that, as a phrase each front end words its own way. */
export function cannotKeepPhrase(reason: string, kind: 'size' | 'write', estimate?: BackupEstimate): Phrase {
  const advice = kind === 'size' && estimate && estimate.bytes > estimate.limitBytes
    ? phrase`raise ${optionNamed('backup.limitBytes')}`
    : phrase`free space there or choose another ${optionNamed('backup.dir')}`;
  return phrase`cannot keep the old rows of this run for undo: ${reason}; nothing was changed: ${advice}, or turn backups off for this run (${optionNamed('backup')})`;
}

type Progress = 'idle' | 'written' | 'sealed' | 'committed' | 'discarded';

// A run that changes no row: an undo would restore nothing, so nothing is read or written for it, and the backups
// of runs that did change something are not pruned for it.
const NOTHING_TO_UNDO = 'the run changes no rows, so there is nothing to undo';

export class RunBackup {
  report: BackupReport;
  private progress: Progress = 'idle';
  private store: BackupStore | undefined;
  private manifest: BackupManifest | undefined;
  private dir: string | undefined;
  private key: string | undefined;
  /** Milliseconds spent in this class's steps. */
  private spent = 0;
  /** The run's files, flushed while the run loads the target, awaited when sealing. */
  private readonly files: string[] = [];
  private flushed: Promise<Error | undefined> | undefined;
  private warn: (message: string) => void = () => undefined;
  /** The weights the preview showed, for the same loads: keep() goes by them rather than asking again. */
  private weighed: { loads: readonly TableLoad[]; result: Awaited<ReturnType<typeof weighLoads>> } | undefined;

  constructor(private readonly options: CompiledBackup) {
    this.report = options.enabled ? { kept: false, reason: 'the run ended before its old rows were read' } : { kept: false, reason: 'backups are turned off' };
  }

  /** What keeping the old rows of `loads` takes, for the preview; undefined when backups are off or the run changes no row. */
  async weigh(target: pg.ClientBase, loads: readonly TableLoad[]): Promise<BackupEstimate | undefined> {
    if (!this.options.enabled || changesNoRow(loads)) return undefined;
    const result = await weighLoads(target, loads, this.options);
    this.weighed = { loads, result };
    return result.estimate;
  }

  /**
   * Call after the loads are chosen and before anything is written. Locks the tables copied in full against
   * writers (so no row slips in between their backup and their TRUNCATE), estimates the size, and when it fits
   * streams every old row into the run's directory. When it does not fit (or the disk refuses), refuses or warns
   * as the options say.
   */
  async keep(target: pg.ClientBase, plan: SyncPlan, loads: readonly TableLoad[], run: RunFacts): Promise<void> {
    if (!this.options.enabled) return;
    if (changesNoRow(loads)) {
      this.report = { kept: false, reason: NOTHING_TO_UNDO, nothingToUndo: true };
      return;
    }
    const started = Date.now();
    this.warn = run.warn;
    try {
      await this.keepRows(target, plan, loads, run, this.options);
    } finally {
      this.spent += Date.now() - started;
    }
  }

  private async keepRows(target: pg.ClientBase, plan: SyncPlan, loads: readonly TableLoad[], run: RunFacts, options: Extract<CompiledBackup, { enabled: true }>): Promise<void> {
    const full = loads.filter((load) => load.replaces().kind === 'all').map((load) => load.table.sql);
    await runStatements(target, lockTablesStatement(full, 'SHARE ROW EXCLUSIVE'));
    // Sizes are estimates either way: the ones the preview showed are what the sync goes by (one statement less).
    const { parts, estimate } = this.weighed?.loads === loads ? this.weighed.result : await weighLoads(target, loads, options);
    if (!estimate.fits) {
      this.cannotKeep(estimate.reason ?? 'too large', 'size', estimate);
      return;
    }
    const identity = await readTargetIdentity(target, marksReadable(plan.target));
    const changedSequences = [...new Map(loads.filter((load) => load.changed)
      .flatMap((load) => load.table.sequences.map((s) => [s.sequence, { table: load.table, sequence: s }] as const))).values()];
    const states = await readSequenceStates(target, changedSequences.map((s) => s.sequence.sequence));
    const sequences: SavedSequence[] = states.map((state, i) => {
      const s = changedSequences[i];
      return { ...state, table: s?.table.sql ?? '', column: s?.sequence.column ?? '', increment: s?.sequence.increment ?? 1 };
    });

    const store = new BackupStore(options.dir);
    const key = targetKey({ system: identity.system, database: identity.database, name: identity.name, label: run.targetLabel });
    let created: { dir: string; syncId: string } | undefined;
    try {
      await this.settlePending(target, store, key);
      created = await store.createRun(key, run.syncId);
      const tables: BackupTable[] = [];
      for (const [position, part] of parts.entries()) {
        tables.push(await this.saveTable(target, created.dir, position, part, run.signal));
      }
      this.manifest = {
        format: MANIFEST_FORMAT,
        version: MANIFEST_VERSION,
        syncId: created.syncId,
        state: 'sealed',
        createdAt: new Date().toISOString(),
        ...(run.history ? { direction: run.history.direction, sourceDb: run.history.sourceDb, targetDb: run.history.targetDb } : {}),
        source: run.sourceLabel,
        target: { label: run.targetLabel, name: identity.name, system: identity.system, timeline: identity.timeline, database: identity.database },
        run: { xid: run.targetXid, snapshot: identity.snapshot },
        schema: plan.schema,
        tables,
        sequences,
        bytes: tables.reduce((sum, t) => sum + t.bytes, 0),
      };
    } catch (error) {
      if (created) await store.remove(created);
      if (!isLocalFileError(error)) throw error;
      this.cannotKeep(`writing the backup in ${options.dir} failed: ${error.message}`, 'write');
      return;
    }
    this.store = store;
    this.dir = created.dir;
    this.key = key;
    this.progress = 'written';
    // The disk writes them out while the target loads; seal() waits for it (and sees any error).
    this.flushed = flushFiles(this.files).then(() => undefined, (error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  }

  /** Streams one table's old rows (and for a keyed load, its changed keys) into the run's directory. */
  private async saveTable(target: pg.ClientBase, dir: string, position: number, part: { load: TableLoad; replaced: Replaced; facts: BackupTableFacts },
    signal: AbortSignal | undefined): Promise<BackupTable> {
    const { load, replaced, facts } = part;
    const table: TablePlan = load.table;
    const format = facts.binary ? 'binary' : 'text';
    const entry: BackupTable = {
      table: table.name, sql: table.sql, restore: replaced.kind, columns: facts.columns, definition: facts.definition, key: table.primaryKey, format,
      rowsBefore: table.sourceRows, rowsAfter: table.sourceRows, rows: 0, keys: 0, bytes: 0,
    };
    if (replaced.kind === 'none') return entry;
    const save = async (statement: string, file: string) => {
      // The server's bytes go straight to the file: no row is looked at here, so the cost is the COPY's alone.
      const stream = target.query(copyTo(statement, { highWaterMark: 1 << 20 }));
      const path = join(dir, file);
      const bytes = await streamToFile(stream, path, signal);
      this.files.push(path);
      return { rows: stream.rowCount, bytes };
    };
    entry.file = fileName(position, table.name, 'rows');
    if (replaced.kind === 'all') {
      const saved = await save(copyWholeTableOut(table.sql, facts.columns, format), entry.file);
      return { ...entry, rowsBefore: saved.rows, rows: saved.rows, bytes: saved.bytes };
    }
    entry.keysFile = fileName(position, table.name, 'keys');
    // A load that only inserts replaces nothing: its keys are all an undo needs.
    if (replaced.replacedRows === 0) entry.file = undefined;
    const rows = entry.file ? await save(copyReplacedRowsOut(table.sql, facts.columns, format, replaced.keys), entry.file) : { rows: 0, bytes: 0 };
    const keys = await save(copyDiffKeysOut(replaced.keys, format), entry.keysFile);
    return { ...entry, key: replaced.keys.key, rowsBefore: replaced.rowsBefore, rows: rows.rows, keys: keys.rows, bytes: rows.bytes + keys.bytes };
  }

  /**
   * Backups a dead run sealed without noting its outcome: txid_status() tells now (the caller holds the sync
   * lock, so none of them is still running). Those that did not commit are removed, as are directories of runs
   * that died before sealing.
   */
  private async settlePending(target: pg.ClientBase, store: BackupStore, key: string): Promise<void> {
    const pending = (await store.list(key)).filter((b) => b.manifest?.state === 'sealed');
    const outcomes = await transactionOutcomes(target, pending.map((b) => b.manifest?.run.xid ?? ''));
    for (const [i, backup] of pending.entries()) {
      const outcome = outcomes[i];
      if (outcome === 'aborted') await store.remove(backup);
      else if (outcome === 'committed' && backup.manifest) await store.writeManifest(backup.dir, { ...backup.manifest, state: 'committed' });
    }
    await store.prune(key, { partial: true });
  }

  private cannotKeep(reason: string, kind: 'size' | 'write', estimate?: BackupEstimate): void {
    if (this.options.enabled && this.options.ifCannotKeep === 'refuse') {
      throw new ValidationError(cannotKeepPhrase(reason, kind, estimate), { failure: 'cannot-keep-backup', details: { reason: 'cannot-keep-backup', estimate } });
    }
    this.report = { kept: false, reason, estimate };
    this.warn(`cannot keep the old rows of this run for undo: ${reason}; the run goes on without them and cannot be undone`);
  }

  /**
   * Call right before COMMIT: the manifest goes to disk, flushed, so a committed run always has its backup. A disk
   * that refuses now is handled as one that refused while writing: the backup is dropped, and the run refuses or
   * goes on without it as the options say.
   */
  async seal(): Promise<void> {
    if (this.progress !== 'written' || !this.store || !this.dir || !this.manifest) return;
    const started = Date.now();
    try {
      const failed = await this.flushed;
      if (failed) throw failed;
      this.manifest.createdAt = new Date().toISOString();
      await this.store.writeManifest(this.dir, this.manifest);
      this.progress = 'sealed';
    } catch (error) {
      if (!isLocalFileError(error)) throw error;
      await this.store.remove({ dir: this.dir }).catch(() => undefined);
      this.progress = 'discarded';
      this.cannotKeep(`flushing the backup in ${this.dir} failed: ${error.message}`, 'write');
    } finally {
      this.spent += Date.now() - started;
    }
  }

  /** Call after COMMIT: notes the outcome and keeps the newest backups only. Never throws: the run has committed. */
  async committed(warn: (message: string) => void): Promise<void> {
    if (this.progress !== 'sealed' || !this.store || !this.dir || !this.manifest || !this.key) return;
    const started = Date.now();
    this.progress = 'committed';
    const { manifest } = this;
    try {
      await this.store.writeManifest(this.dir, { ...manifest, state: 'committed' });
      if (this.options.enabled) await this.store.prune(this.key, { keep: this.options.keep, partial: false });
    } catch (error) {
      warn(`the run committed and its backup is kept, but noting that in ${this.dir} or removing older backups failed: ${(error as Error).message}`);
    }
    this.spent += Date.now() - started;
    this.report = {
      kept: true, syncId: manifest.syncId, dir: this.dir, bytes: manifest.bytes,
      tables: manifest.tables.filter((t) => t.restore !== 'none').length, seconds: this.spent / 1000,
    };
  }

  /**
   * Call when the run failed. Before sealing, nothing of the backup counts: it is removed. After sealing, the
   * COMMIT may have reached the server: the backup stays, sealed, for the next run or undo to settle by the run's
   * transaction id. Never throws.
   */
  async failed(): Promise<void> {
    const sealed = this.progress === 'sealed';
    if (this.progress === 'written' && this.dir) await this.store?.remove({ dir: this.dir }).catch(() => undefined);
    this.progress = 'discarded';
    if (this.options.enabled && !(this.report.kept === false && this.report.estimate)) {
      this.report = { kept: false, reason: sealed ? 'the run failed at COMMIT; its backup stays until its outcome is known' : 'the run rolled back; nothing was kept' };
    }
  }

  /** Whether the backup is on disk, flushed with its manifest (from just before COMMIT on). */
  get kept(): boolean {
    return this.progress === 'sealed' || this.progress === 'committed';
  }

  static describe(report: Extract<BackupReport, { kept: true }>): string {
    return `${formatBytes(report.bytes)} of old rows from ${report.tables} table${report.tables === 1 ? '' : 's'}`;
  }
}
