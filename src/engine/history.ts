// The run's row in the target's archon_sync_history: started and finished on the run's own connection (outside its
// transaction), its commit facts written inside it, live progress best-effort on the sidecar.

import type pg from 'pg';
import { INIT_HISTORY, phrase, type Phrase } from '../advice.js';
import { runBatch } from '../pg/batch.js';
import { redact } from '../pg/redact.js';
import {
  guardedInTransaction, shortUpdateStatements, startRunStatements, STARTED_NOTICE, updateRunStatement, type HistoryFields, type HistoryRowStart,
} from '../pg/history-statements.js';
import { isStatementError } from '../pg/server-errors.js';
import { isUndefinedTable } from '../pg/transactions.js';

export type { HistoryFields } from '../pg/history-statements.js';

/** What the row starts with. */
export type HistoryStart = HistoryRowStart;

/** `sync_YYYYMMDD_HHMMSS` in UTC, the id format Archon's own script uses. */
export function newSyncId(date: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `sync_${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

// Live progress is a nicety that costs a statement each: none in a run's first seconds (a nothing-changed run
// ends before), then at most one every few seconds, and only when something changed.
const PROGRESS_INTERVAL_MS = 3000;
// How long the run waits for a write beside it (the sidecar's may queue in a full pool for minutes).
const BESIDE_WAIT_MS = 3000;

function atMost(work: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  return Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
}

/**
 * A started row's recorder, and the replies to the statements sent with it; or, when those failed after the row
 * was written, their error.
 */
export type HistoryStarted = { recorder: HistoryRecorder; then: pg.QueryResult[] } | { recorder: HistoryRecorder; error: unknown };

/** Where live progress goes: the sidecar's best-effort statement, or nowhere. */
export type BesideWriter = (statements: readonly string[]) => Promise<unknown>;

/**
 * One history row. `start` and `finish` run on the run's main connection in short transactions of their own (so a
 * run with a single free connection slot is recorded), `inTransaction` gives the statement that writes what must
 * commit with the data, and `update` sends coalesced progress beside the run, never overwriting an outcome.
 */
export class HistoryRecorder {
  private pending: HistoryFields = {};
  private written: HistoryFields = {};
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite: number;
  private progressStopped = false;

  private constructor(
    /** The id actually written (a suffix is added when another run took the same second); undefined: not recording. */
    private readonly id: string | undefined,
    readonly syncId: string,
    private readonly beside: BesideWriter,
    private readonly warn: (message: Phrase) => void,
  ) {
    this.lastWrite = Date.now();
  }

  /**
   * Inserts the `running` row on `main` before the run's transaction begins (and settles rows of dead runs while
   * the sync lock is free), and sends `then` (the statements that begin the run) in the same message. On a
   * problem with the row, warns once, sends `then` alone and returns a recorder that does nothing. When `then`
   * fails after the row was written, returns the recorder with `then`'s error, for the caller to record and throw.
   */
  static async start(main: pg.ClientBase, start: HistoryStart, beside: BesideWriter, warn: (message: Phrase) => void, then: readonly string[] = []): Promise<HistoryStarted> {
    // The replies of a message that failed are lost: the block's notice says whether the row was written before.
    let written: string | undefined;
    const onNotice = (notice: { message?: string | undefined; detail?: string | undefined }) => {
      if (notice.message === STARTED_NOTICE) written = notice.detail ?? '';
    };
    main.on('notice', onNotice);
    let replies: pg.QueryResult[];
    try {
      replies = await runBatch(main, [...startRunStatements(start), ...then]);
    } catch (error) {
      if (written !== undefined) return { recorder: HistoryRecorder.forRow(written, start, beside, warn), error };
      // A connection that failed (a pooler's FATAL, a lost socket) is the run's failure, not the history's.
      if (!isStatementError(error)) throw error;
      // The short transaction is aborted; the run's own BEGIN must not find it open.
      await main.query('ROLLBACK').catch(() => undefined);
      warn(isUndefinedTable(error)
        ? phrase`the target has no archon_sync_history table, so this run is not recorded; create it with ${INIT_HISTORY}`
        : [`cannot record this run in archon_sync_history: ${redact((error as Error).message)}; the sync goes on`]);
      return { recorder: new HistoryRecorder(undefined, start.syncId, beside, warn), then: await runBatch(main, then) };
    } finally {
      main.off('notice', onNotice);
    }
    return { recorder: HistoryRecorder.forRow(written ?? '', start, beside, warn), then: replies.slice(replies.length - then.length) };
  }

  /** The recorder of a row written with id `id` ('' when no id was free). */
  private static forRow(id: string, start: HistoryStart, beside: BesideWriter, warn: (message: Phrase) => void): HistoryRecorder {
    if (!id) {
      warn([`cannot record this run in archon_sync_history: no free sync id after ${start.syncId} (other runs took them at the same moment); the sync goes on`]);
      return new HistoryRecorder(undefined, start.syncId, beside, warn);
    }
    return new HistoryRecorder(id, id, beside, warn);
  }

  /** The row exists: what this run writes there will be there for the next one. */
  get recording(): boolean {
    return this.id !== undefined;
  }

  /** Records new progress; returns at once. Unchanged values are not written again. */
  update(fields: HistoryFields): void {
    if (!this.id || this.progressStopped) return;
    for (const [key, value] of Object.entries(fields) as [keyof HistoryFields, unknown][]) {
      if (this.written[key] !== value) (this.pending as Record<string, unknown>)[key] = value;
    }
    if (this.inFlight || this.timer || Object.keys(this.pending).length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, this.lastWrite + PROGRESS_INTERVAL_MS - Date.now()));
    this.timer.unref();
  }

  private flush(): void {
    const statement = this.id && !this.progressStopped ? updateRunStatement(this.id, this.pending, { whileRunning: true }) : undefined;
    if (!statement) return;
    this.written = { ...this.written, ...this.pending };
    this.pending = {};
    this.lastWrite = Date.now();
    this.inFlight = this.beside(shortUpdateStatements(statement)).then(() => undefined, () => undefined).finally(() => {
      this.inFlight = undefined;
      if (Object.keys(this.pending).length > 0) this.update({});
    });
  }

  /** No more live progress; waits for one in flight, so it cannot hold the row when the run's transaction writes it. */
  async stopProgress(): Promise<void> {
    this.progressStopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await atMost(this.inFlight, BESIDE_WAIT_MS);
  }

  /** The statement, for the run's own transaction, that writes `fields` (metadata merged) and cannot fail it. */
  inTransaction(fields: HistoryFields): string | undefined {
    const statement = this.id ? updateRunStatement(this.id, { ...this.pending, ...fields }, { mergeMetadata: true }) : undefined;
    return statement ? guardedInTransaction(statement) : undefined;
  }

  /**
   * The statements that write `fields` as the outcome, in a short transaction of their own, for a caller that sends
   * them right after its COMMIT in the same message (boundedCommit); empty when not recording. When they fail, the
   * caller writes the outcome again with finish().
   */
  outcomeStatements(fields: HistoryFields): string[] {
    const statement = this.id ? updateRunStatement(this.id, fields, { mergeMetadata: true }) : undefined;
    return statement ? shortUpdateStatements(statement) : [];
  }

  /**
   * Writes the outcome on `main` (after its COMMIT or ROLLBACK), or beside the run when the main connection is
   * gone; a row left `running` is settled by the next run.
   */
  async finish(main: pg.ClientBase | undefined, fields: HistoryFields): Promise<void> {
    await this.stopProgress();
    const statement = this.id ? updateRunStatement(this.id, fields, { mergeMetadata: true }) : undefined;
    if (!statement) return;
    try {
      if (main) await runBatch(main, shortUpdateStatements(statement));
      else await atMost(this.beside(shortUpdateStatements(statement)), BESIDE_WAIT_MS);
    } catch (error) {
      await main?.query('ROLLBACK').catch(() => undefined);
      this.warn([`the outcome of this run could not be written to archon_sync_history (${redact((error as Error).message)}); the next run settles its row`]);
    }
  }
}
