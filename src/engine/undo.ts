// undo(): puts a target's tables back exactly as they were before one sync, from the backup that sync kept here.

import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { optionNamed, phrase, wordPhrase, type Phrase } from '../advice.js';
import { ConfigurationError, CopyError, ValidationError, VerificationError } from '../errors.js';
import {
  copyRowsIn, currentXmax, deleteSavedKeys, identityReadable, laterRecordedRuns, markComparable, markRunUndone, readBackupTableFacts,
  readTargetIdentity, readWrittenSince, recordedStatus, restoreSequenceStatements, savedKeysTable, sequencesPastRowsStatement, transactionOutcomes,
  type TargetIdentity,
} from '../pg/backup-statements.js';
import { countRows, readCatalog, type Catalog, type ForeignKeyInfo, type TriggerInfo } from '../pg/catalog.js';
import { sendCancelRequest } from '../pg/cancel-request.js';
import { connect, describeEndpoint, destroyConnection } from '../pg/connect.js';
import { historyTableExists } from '../pg/history-statements.js';
import { quoteTable } from '../pg/quote.js';
import {
  addForeignKeyStatement, deleteAllStatement, disableTriggerStatement, dropForeignKeyStatement, dropIndexesStatement, lockTablesStatement,
  restoreTriggerStatement, runStatements, truncateStatement,
} from '../pg/ddl.js';
import { findForeignKeyViolation } from '../pg/foreign-key-check.js';
import { createIndexes } from '../pg/index-builds.js';
import { inspectTarget } from '../pg/target-facts.js';
import { beginTargetTransaction, commit, existingTables, rollback } from '../pg/transactions.js';
import type { BackupManifest, BackupTable } from './backup/manifest.js';
import { BackupStore, targetKey, type StoredBackup } from './backup/store.js';
import type { BackupSummary, TriggerSuppression, UndoOptions, UndoResult, UndoTableResult } from '../types.js';
import { resolveBackupDir, resolveUndoOptions, type ResolvedUndoOptions } from './options.js';
import { asSyncError } from './failure.js';
import { HistoryRecorder, newSyncId } from './history.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';

function summary(backup: StoredBackup): BackupSummary {
  const m = backup.manifest;
  return {
    syncId: backup.syncId, dir: backup.dir, state: m?.state ?? 'unreadable', createdAt: m?.createdAt, direction: m?.direction,
    sourceDb: m?.sourceDb, targetDb: m?.targetDb, target: m?.target.label, bytes: m?.bytes ?? 0,
  };
}

/** The backups of `syncId` kept in `backupDir` (one per target database it was kept for; normally one). */
export async function findBackups(options: { syncId: string; backupDir?: string | undefined }): Promise<BackupSummary[]> {
  const store = new BackupStore(resolveBackupDir(options.backupDir));
  return (await store.find(options.syncId)).filter((b) => b.sealed).map(summary);
}

/** Reads a saved file into COPY … FROM STDIN; resolves with the rows loaded. */
async function loadFile(client: pg.ClientBase, statement: string, path: string, signal: AbortSignal | undefined): Promise<number> {
  const target = client.query(copyFrom(statement, { highWaterMark: 1 << 20 }));
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), target, signal ? { signal } : {});
  return target.rowCount;
}

/** Words for a run's later changes: "3 rows of archon_settings written since". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

class UndoRun {
  private readonly warnings: string[] = [];
  private readonly started = Date.now();
  private readonly store: BackupStore;
  private client: pg.Client | undefined;
  private pid = 0;
  private history: HistoryRecorder | undefined;
  private historyClient: pg.Client | undefined;
  private currentTable: string | undefined;
  private step = 'undo';
  private triggerSuppression: TriggerSuppression = 'replica-role';
  private readonly undoId: string;

  private readonly options: ResolvedUndoOptions;

  constructor(given: UndoOptions) {
    const options = resolveUndoOptions(given);
    this.options = options;
    this.store = new BackupStore(options.backupDir);
    const history = options.history === false ? undefined : options.history;
    this.undoId = history?.syncId ?? newSyncId(new Date(this.started)).replace(/^sync_/, 'undo_');
  }

  async execute(): Promise<UndoResult> {
    const { options } = this;
    const connectTimeoutMs = options.connectTimeoutMs;
    const client = await connect(options.target, { side: 'target', connectTimeoutMs });
    this.client = client;
    // The protocol's cancel needs no free connection slot.
    const onAbort = () => { void sendCancelRequest(options.target, client); };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.transaction(client);
      await this.history?.finish(this.historyClient, {
        status: 'completed', current_phase: 'verification', current_table: null, percent_complete: 100, completed_at: new Date(),
        duration_seconds: Math.round(result.seconds), synced_rows: result.tables.reduce((s, t) => s + t.restored, 0),
        tables_synced: result.tables.map((t) => ({ name: t.table, mode: `undo-${t.restore}`, rows: t.restored, deleted: t.deleted })),
      });
      return result;
    } catch (error) {
      const typed = asSyncError(error, { step: this.step, table: this.currentTable, signal: options.signal });
      await Promise.race([rollback(client).catch(() => destroyConnection(client)), new Promise((r) => setTimeout(r, 3000).unref())]);
      await this.history?.finish(this.historyClient, {
        status: typed.code === 'CANCELLED' ? 'cancelled' : 'failed', completed_at: new Date(), duration_seconds: Math.round((Date.now() - this.started) / 1000),
        error_message: typed.message, error_details: { code: typed.code, table: typed.table ?? null, ...(typed.details ?? {}) },
      });
      throw typed;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await this.historyClient?.end().catch(() => undefined);
      await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
      destroyConnection(client);
    }
  }

  private warn(message: string | Phrase): void {
    const text = typeof message === 'string' ? [message] : message;
    const worded = wordPhrase(text);
    this.warnings.push(worded);
    this.options.onEvent?.({ type: 'warning', message: worded, phrase: text });
  }

  private async transaction(client: pg.Client): Promise<UndoResult> {
    const { options } = this;
    const begun = await beginTargetTransaction(client, {
      lockTimeoutMs: options.lockTimeoutMs,
      maintenanceWorkMem: options.maintenanceWorkMem,
      maxParallelMaintenanceWorkers: options.maxParallelMaintenanceWorkers,
      lock: 'exclusive',
    });
    this.pid = begun.backendPid;
    await refuseIfAnotherRun(client, begun.lockIsFree);
    const identity = await readTargetIdentity(client, await identityReadable(client));
    const backup = await this.findBackup(client, identity);
    const manifest = backup.manifest as BackupManifest;
    await this.checkCommitted(client, backup, manifest);
    const overridden = this.identityDoubts(identity, manifest);

    const names = manifest.tables.map((t) => t.table);
    const present = new Set(await existingTables(client, manifest.schema, names));
    const missing = names.filter((n) => !present.has(n));
    if (missing.length > 0) {
      throw new ValidationError(`${manifest.schema}.${missing.join(', ')} no longer exist${missing.length === 1 ? 's' : ''} on the target; ${manifest.syncId} cannot be undone`, { details: { missing } });
    }
    const full = manifest.tables.filter((t) => t.restore === 'all');
    await runStatements(client, [
      ...lockTablesStatement(full.map((t) => t.sql), 'ACCESS EXCLUSIVE'),
      ...lockTablesStatement(manifest.tables.filter((t) => t.restore !== 'all').map((t) => t.sql), 'SHARE ROW EXCLUSIVE'),
    ]);
    overridden.push(...await this.changesSince(client, manifest, backup.key));
    if (overridden.length > 0 && !options.force) {
      throw new ValidationError([`the target changed since ${manifest.syncId}: ${overridden.join('; ')}; nothing was changed — `, optionNamed('force'), ` puts the tables back as they were before ${manifest.syncId} anyway, and loses those changes`], {
        failure: 'undo-refused', details: { reason: 'changed-since', changes: overridden },
      });
    }
    for (const change of overridden) this.warn(`overwritten by the forced undo: ${change}`);
    throwIfAborted(options.signal);
    if (options.history !== false && manifest.direction && (await historyTableExists(client))) await this.startHistory(manifest);

    const catalog = await readCatalog(client, manifest.schema, names);
    const tables = await this.restore(client, backup.dir, manifest, catalog);
    await runStatements(client, restoreSequenceStatements(manifest.sequences));
    // A forced undo may keep rows written since the run; a sequence put back below their ids would hand them out again.
    if (options.force && overridden.length > 0) await runStatements(client, sequencesPastRowsStatement(manifest.sequences));
    await this.verify(client, manifest, tables, options.force === true && overridden.length > 0);
    if (this.history?.recording) await markRunUndone(client, manifest.syncId, this.history.syncId);
    throwIfAborted(options.signal);
    const facts = this.history?.inTransaction({ metadata: this.historyMetadata(manifest, begun.xid) });
    if (facts) await client.query(facts);
    await commit(client);
    try {
      await this.store.writeManifest(backup.dir, { ...manifest, state: 'undone', undoneBy: this.history?.syncId ?? this.undoId, undoneAt: new Date().toISOString() });
    } catch (error) {
      this.warn(`the undo committed, but noting it in ${backup.dir} failed: ${(error as Error).message}`);
    }
    return {
      syncId: this.history?.syncId ?? this.undoId,
      undid: manifest.syncId,
      tables,
      sequences: manifest.sequences.length,
      overridden,
      triggerSuppression: this.triggerSuppression,
      seconds: (Date.now() - this.started) / 1000,
      warnings: this.warnings,
    };
  }

  /** This target's backup of the run; refuses one taken from another database, and says why there is none. */
  private async findBackup(client: pg.ClientBase, identity: TargetIdentity): Promise<StoredBackup> {
    const { syncId } = this.options;
    const label = describeEndpoint(this.options.target).label;
    const key = targetKey({ system: identity.system, database: identity.database, name: identity.name, label });
    const found = (await this.store.find(syncId)).filter((b) => b.sealed);
    const mine = found.find((b) => b.key === key) ?? found.find((b) => this.options.force === true && b.manifest !== undefined
      && (b.manifest.target.system === null || identity.system === null) && b.manifest.target.database === identity.database && b.manifest.target.name === identity.name);
    if (mine) {
      if (!mine.manifest) throw new ValidationError(`the backup of ${syncId} in ${mine.dir} has a manifest this version of archon-sync cannot read`, { details: { dir: mine.dir } });
      return mine;
    }
    const other = found.find((b) => b.manifest);
    if (other?.manifest) {
      const theirs = other.manifest.target;
      const unknown = theirs.system === null || identity.system === null;
      if (unknown && theirs.database === identity.database && theirs.name === identity.name) {
        throw new ValidationError(phrase`cannot tell whether this target is the database ${syncId} wrote to (${theirs.label}): the role may not call pg_control_system(); nothing was changed — ${optionNamed('force')} undoes it here anyway`, {
          failure: 'undo-refused', details: { reason: 'identity-unknown' },
        });
      }
      throw new ValidationError(`the backup of ${syncId} was kept for another database (${theirs.label}, database ${theirs.name}); this target (${label}, database ${identity.name}) is not it, so nothing was changed`, {
        details: { reason: 'another-database', backupTarget: theirs.label },
      });
    }
    const recorded = await recordedStatus(client, syncId);
    if (recorded && recorded.status !== 'completed') {
      throw new ValidationError(`${syncId} did not commit (${recorded.status}${recorded.error ? `: ${recorded.error.slice(0, 120)}` : ''}); it changed nothing, so there is nothing to undo`, {
        details: { reason: 'not-committed', status: recorded.status },
      });
    }
    throw new ConfigurationError(recorded
      ? `no backup of ${syncId} is in ${this.store.root}: it ran with backups off, on another machine or with another backup directory, or it was pruned (the newest runs are kept)`
      : `no run ${syncId} is known here: no backup of it is in ${this.store.root}, and the target has no history row of it`, { details: { reason: 'no-backup' } });
  }

  /** The run must have committed: txid_status() says so, or (its transaction too old to ask) its history row. */
  private async checkCommitted(client: pg.ClientBase, backup: StoredBackup, manifest: BackupManifest): Promise<void> {
    const [outcome] = await transactionOutcomes(client, [manifest.run.xid]);
    if (outcome === 'committed') {
      if (manifest.state === 'sealed') await this.store.writeManifest(backup.dir, { ...manifest, state: 'committed' });
    } else if (outcome === 'aborted' || outcome === 'in progress') {
      if (outcome === 'aborted') await this.store.remove(backup);
      throw new ValidationError(`${manifest.syncId} did not commit (its transaction ${outcome === 'aborted' ? 'rolled back' : 'is still open'}); it changed nothing, so there is nothing to undo${outcome === 'aborted' ? ', and its backup was removed' : ''}`, {
        details: { reason: 'not-committed' },
      });
    } else {
      const recorded = await recordedStatus(client, manifest.syncId);
      if (recorded?.status !== 'completed' && manifest.state === 'sealed' && !this.options.force) {
        throw new ValidationError(phrase`cannot tell whether ${manifest.syncId} committed (its transaction is too old to ask about, and no history row says so); nothing was changed — ${optionNamed('force')} undoes it anyway`, {
          failure: 'undo-refused', details: { reason: 'outcome-unknown' },
        });
      }
    }
    if (manifest.state === 'undone' && !this.options.force) {
      throw new ValidationError(`${manifest.syncId} was already undone${manifest.undoneBy ? ` by ${manifest.undoneBy}` : ''}; nothing was changed`, { failure: 'undo-refused', details: { reason: 'already-undone' } });
    }
  }

  /**
   * Facts about the target's identity that mean it may not be as the run left it: a new timeline, or a cluster
   * identifier readable one time and not the other. Unreadable both times, the database was recognised by its
   * host, port, name and oid (the backup's key): that is said, and is enough.
   */
  private identityDoubts(identity: TargetIdentity, manifest: BackupManifest): string[] {
    const then = manifest.target;
    if (then.system === null && identity.system === null) {
      this.warn(`the role may not call pg_control_system(), so ${then.label} was recognised by its host, port, name and oid only`);
      return [];
    }
    if (then.system === null || identity.system === null) {
      return ['whether this is the same database cannot be told (the role could call pg_control_system() only one of the times)'];
    }
    if (then.timeline !== null && identity.timeline !== null && then.timeline !== identity.timeline) {
      return [`the server was restored to a point in time or promoted since (timeline ${then.timeline}, now ${identity.timeline})`];
    }
    return [];
  }

  /**
   * What was written to the run's tables since its COMMIT by anything but the run: rows (by their transaction
   * ids), row counts, the tables' catalog rows, their columns, and later archon-sync runs (by name).
   */
  private async changesSince(client: pg.ClientBase, manifest: BackupManifest, key: string): Promise<string[]> {
    const changes: string[] = [];
    const later = await this.laterRuns(client, manifest, key);
    const undoneBy = later.find((r) => r.undoOf === manifest.syncId);
    if (undoneBy && !this.options.force) {
      throw new ValidationError(`${manifest.syncId} was already undone by ${undoneBy.syncId}; nothing was changed`, { failure: 'undo-refused', details: { reason: 'already-undone' } });
    }
    for (const run of later) changes.push(run.undoOf ? `${run.syncId} (an archon-sync undo of ${run.undoOf}) committed after it` : `${run.syncId} (a later archon-sync run) committed after it`);
    const now = await currentXmax(client);
    if (!markComparable(manifest.run, now)) {
      changes.push(`what changed since cannot be told (${manifest.syncId} is over 2^31 transactions ago)`);
      return changes;
    }
    const sqls = manifest.tables.map((t) => t.sql);
    const written = await readWrittenSince(client, sqls, manifest.run, now);
    const facts = await readBackupTableFacts(client, sqls);
    manifest.tables.forEach((table, i) => {
      const w = written[i];
      const f = facts[i];
      if (w && w.writtenRows > 0) changes.push(`${plural(w.writtenRows, 'row')} of ${table.table} written since`);
      else if (w && w.rows !== table.rowsAfter) changes.push(`${table.table} has ${w.rows} rows where ${manifest.syncId} left ${table.rowsAfter}`);
      if (f && f.columns.join(',') !== table.columns.join(',')) changes.push(`the columns of ${table.table} changed since (${table.columns.join(', ')} then, ${f.columns.join(', ')} now)`);
      else if (f && f.definition !== table.definition) changes.push(`the definition of ${table.table} changed since (a column, constraint, index or trigger)`);
    });
    return changes;
  }

  /** archon-sync runs on this target that committed after the run: from its history table and from the backups here. */
  private async laterRuns(client: pg.ClientBase, manifest: BackupManifest, key: string): Promise<{ syncId: string; undoOf: string | null }[]> {
    const own = BigInt(manifest.run.xid);
    const recorded = (await historyTableExists(client)) ? await laterRecordedRuns(client, manifest.run.xid) : [];
    const kept = (await this.store.list(key))
      .flatMap((b) => (b.manifest && b.manifest.syncId !== manifest.syncId && /^\d+$/.test(b.manifest.run.xid) && BigInt(b.manifest.run.xid) > own
        ? [{ syncId: b.manifest.syncId, xid: b.manifest.run.xid, undoOf: null }] : []));
    const candidates = [...recorded, ...kept.filter((k) => !recorded.some((r) => r.syncId === k.syncId))];
    const outcomes = await transactionOutcomes(client, candidates.map((c) => c.xid));
    return candidates.filter((_, i) => outcomes[i] === 'committed').map(({ syncId, undoOf }) => ({ syncId, undoOf }));
  }

  private historyMetadata(manifest: BackupManifest, xid: string): Record<string, unknown> {
    return { tool: 'archon-sync', undo_of: manifest.syncId, target: describeEndpoint(this.options.target).label, tables: manifest.tables.map((t) => t.table), target_xid: xid };
  }

  private async startHistory(manifest: BackupManifest): Promise<void> {
    const { options } = this;
    const history = options.history === false ? undefined : options.history;
    // Its own connection: the undo's transaction already holds the locks, and its row must outlive a rollback.
    const historyClient = await connect(options.target, { side: 'target (history)', connectTimeoutMs: options.connectTimeoutMs, applicationName: 'archon-sync-history' });
    this.historyClient = historyClient;
    this.history = (await HistoryRecorder.start(
      historyClient,
      {
        syncId: this.undoId,
        direction: manifest.direction ?? 'local-to-remote',
        triggeredBy: history?.triggeredBy ?? 'library',
        sourceDb: manifest.sourceDb ?? '',
        targetDb: manifest.targetDb ?? '',
        metadata: { tool: 'archon-sync', undo_of: manifest.syncId },
      },
      (statements) => historyClient.query(statements.join(';\n')),
      (message) => this.warn(message),
    )).recorder;
  }

  /**
   * The restore, as the sync loads: user triggers silent, references from outside tables into tables emptied here
   * set aside, their secondary indexes dropped; keyed tables lose the run's keys (children first); every saved row
   * goes back (parents first); indexes are rebuilt, every foreign key touching a restored table is checked, and
   * what was set aside is put back.
   */
  private async restore(client: pg.ClientBase, dir: string, manifest: BackupManifest, catalog: Catalog): Promise<UndoTableResult[]> {
    const { options } = this;
    const restored = manifest.tables.filter((t) => t.restore !== 'none');
    const keyed = restored.filter((t) => t.restore === 'keys');
    const full = restored.filter((t) => t.restore === 'all');
    const inManifest = new Set(manifest.tables.map((t) => t.table));
    const fullNames = new Set(full.map((t) => t.table));
    const isOurs = (schema: string, table: string) => schema === manifest.schema && inManifest.has(table);

    this.step = 'undo';
    const replica = options.triggerSuppression !== 'disable-triggers'
      && (await inspectTarget(client, true, () => ({ count: [], exists: [], references: [] }))).replicaRole;
    this.triggerSuppression = replica ? 'replica-role' : 'disabled-triggers';
    if (!replica && keyed.length > 0) {
      throw new ValidationError(`undoing ${manifest.syncId} deletes rows by key in ${keyed.map((t) => t.table).join(', ')}, which needs session_replication_role = replica on the target (with foreign-key triggers active, deleting a row would cascade); nothing was changed`, {
        details: { reason: 'replica-role' },
      });
    }
    const restoredNames = new Set(restored.map((t) => t.table));
    const silence: TriggerInfo[] = catalog.triggers.filter((t) => t.mode !== 'D' && t.schema === manifest.schema && restoredNames.has(t.table)
      && (!replica || t.mode === 'A' || t.mode === 'R'));
    const intoFull = (fk: ForeignKeyInfo) => fk.refSchema === manifest.schema && fullNames.has(fk.refTable);
    const setAside = catalog.foreignKeys.filter((fk) => intoFull(fk) && !isOurs(fk.schema, fk.table));
    // TRUNCATE refuses a table that a table it does not empty references: those are emptied row by row instead.
    const deleted = new Set(catalog.foreignKeys.filter((fk) => intoFull(fk) && isOurs(fk.schema, fk.table) && !fullNames.has(fk.table)).map((fk) => fk.refTable));
    const indexes = catalog.indexes.filter((i) => i.schema === manifest.schema && fullNames.has(i.table) && !i.backsConstraint);
    const counts = await countRows(client, full.map((t) => t.sql));
    await runStatements(client, [
      ...lockTablesStatement([...new Set(setAside.map((fk) => quoteTable(fk.schema, fk.table)))], 'ACCESS EXCLUSIVE'),
      ...silence.map(disableTriggerStatement),
      ...setAside.map(dropForeignKeyStatement),
      ...dropIndexesStatement(indexes),
      ...full.filter((t) => deleted.has(t.table)).map((t) => deleteAllStatement(t.sql)),
      ...truncateStatement(full.filter((t) => !deleted.has(t.table)).map((t) => t.sql)),
    ]);
    const results = new Map<string, UndoTableResult>(full.map((t, i) => [t.table, { table: t.table, restore: 'all', deleted: counts[i] ?? 0, restored: 0, rows: 0 }]));

    for (const [position, table] of [...keyed.entries()].reverse()) {
      throwIfAborted(options.signal);
      this.currentTable = `${manifest.schema}.${table.table}`;
      const keys = savedKeysTable(table.sql, table.key, position, table.format);
      await runStatements(client, [keys.create]);
      if (table.keysFile) await loadFile(client, keys.copyIn, join(dir, table.keysFile), options.signal);
      results.set(table.table, { table: table.table, restore: 'keys', deleted: await deleteSavedKeys(client, table.sql, table.key, keys.name), restored: 0, rows: 0 });
    }
    for (const table of restored) {
      throwIfAborted(options.signal);
      this.currentTable = `${manifest.schema}.${table.table}`;
      const result = results.get(table.table);
      if (!result || !table.file) continue;
      const freeze = table.restore === 'all' && !deleted.has(table.table);
      result.restored = await loadFile(client, copyRowsIn(table.sql, table.columns, table.format, freeze), join(dir, table.file), options.signal);
      if (result.restored !== table.rows) {
        throw new CopyError(`${table.table}: put back ${result.restored} rows where the backup holds ${table.rows}; the target was rolled back`, { table: this.currentTable });
      }
    }
    this.step = 'index rebuild';
    const workers = options.maxParallelMaintenanceWorkers;
    for (const table of full) {
      throwIfAborted(options.signal);
      this.currentTable = `${manifest.schema}.${table.table}`;
      await createIndexes(client, indexes.filter((i) => i.table === table.table), workers);
    }
    this.currentTable = undefined;
    this.step = 'undo';
    const touches = (fk: ForeignKeyInfo) => (fk.schema === manifest.schema && restoredNames.has(fk.table)) || (fk.refSchema === manifest.schema && restoredNames.has(fk.refTable));
    const checked = replica ? catalog.foreignKeys.filter((fk) => fk.validated && touches(fk) && !setAside.includes(fk)) : [];
    const violation = await findForeignKeyViolation(client, checked);
    const fk = violation ? checked[violation.index] : undefined;
    if (violation && fk) {
      const key = Object.entries(violation.key).map(([column, value]) => `${column}=${value}`).join(', ');
      throw new CopyError(`${fk.schema}.${fk.table} row with ${key} would reference a missing ${fk.refTable} row after the undo (constraint ${fk.name}); the target was rolled back`, {
        table: `${fk.schema}.${fk.table}`, constraint: fk.name, details: { key: violation.key },
      });
    }
    await runStatements(client, [
      ...setAside.map(addForeignKeyStatement),
      ...silence.map(restoreTriggerStatement).filter((s): s is string => s !== undefined),
    ]);
    return restored.map((t) => results.get(t.table)).filter((r): r is UndoTableResult => r !== undefined);
  }

  /** Every table put back has the rows it had before the run (a keyed table only when nothing since was kept by force). */
  private async verify(client: pg.ClientBase, manifest: BackupManifest, results: UndoTableResult[], forced: boolean): Promise<void> {
    const tables: BackupTable[] = manifest.tables.filter((t) => t.restore === 'all' || (t.restore === 'keys' && !forced));
    const rows = await countRows(client, tables.map((t) => t.sql));
    const wrong = tables.filter((t, i) => rows[i] !== t.rowsBefore);
    for (const result of results) result.rows = rows[tables.findIndex((t) => t.table === result.table)] ?? result.rows;
    const first = wrong[0];
    if (first) {
      const now = rows[tables.indexOf(first)] ?? 0;
      throw new VerificationError(`after the undo ${first.table} has ${now} rows where it had ${first.rowsBefore} before ${manifest.syncId}; the target was rolled back`, {
        table: `${manifest.schema}.${first.table}`, details: { mismatches: wrong.map((t) => t.table) },
      });
    }
  }
}

/**
 * Puts the target's tables back exactly as they were before run `syncId` (every non-generated column, sequences
 * included), in one transaction, from the backup that run kept on this machine. Refuses (ValidationError, nothing
 * changed) when the backup is of another database, when the run did not commit, or, unless `force`, when the
 * target changed since the run. Resolves when committed.
 */
export async function undo(options: UndoOptions): Promise<UndoResult> {
  try {
    return await new UndoRun(options).execute();
  } catch (error) {
    throw asSyncError(error, { step: 'undo', signal: options.signal });
  }
}
