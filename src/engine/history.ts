// The run's row in the target's archon_sync_history, written on its own autocommit connection, never slowing the copy.

import type pg from 'pg';
import { INIT_HISTORY, phrase, type Phrase } from '../advice.js';
import { destroyConnection } from '../pg/connect.js';
import { redact } from '../pg/redact.js';
import {
  historyTableExists,
  insertHistoryRow,
  settleAbandonedRuns,
  updateHistoryRow,
  type HistoryFields,
  type HistoryRowStart,
} from '../pg/history-statements.js';

export type { HistoryFields } from '../pg/history-statements.js';

/** What the row starts with. */
export type HistoryStart = HistoryRowStart;

/** `sync_YYYYMMDD_HHMMSS` in UTC, the id format Archon's own script uses. */
export function newSyncId(date: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `sync_${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

const UPDATE_INTERVAL_MS = 1000;
// A history statement that takes longer than this is given up on, with its connection. Timed on our side:
// a session-level SET statement_timeout would stay behind on a pooled server connection Archon then uses.
const STATEMENT_TIMEOUT_MS = 5000;

class HistoryTimeout extends Error {}

async function withinTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new HistoryTimeout(`no answer within ${STATEMENT_TIMEOUT_MS / 1000} s`)), STATEMENT_TIMEOUT_MS); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One history row, kept current. Updates are coalesced (the latest state wins) and written at most once a
 * second, one at a time; a failing or slow history connection produces one warning and is then ignored.
 */
export class HistoryRecorder {
  private pending: HistoryFields = {};
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private disabled: boolean;

  private constructor(
    private readonly client: pg.Client | undefined,
    /** The id actually written (a suffix is added when another run took the same second). */
    readonly syncId: string,
    private readonly warn: (message: Phrase) => void,
  ) {
    this.disabled = client === undefined;
  }

  /**
   * Connects and inserts the `running` row; on any problem warns once and returns a recorder that does nothing.
   * Call it only while holding the sync lock (it settles rows of dead runs).
   */
  static async start(connectHistory: () => Promise<pg.Client>, start: HistoryStart, warn: (message: Phrase) => void): Promise<HistoryRecorder> {
    let client: pg.Client | undefined;
    try {
      client = await connectHistory();
      const history = client;
      if (!(await withinTimeout(historyTableExists(history)))) {
        warn(phrase`the target has no archon_sync_history table, so this run is not recorded; create it with ${INIT_HISTORY}`);
        await history.end().catch(() => undefined);
        return new HistoryRecorder(undefined, start.syncId, warn);
      }
      const syncId = await withinTimeout(insertHistoryRow(history, start));
      await withinTimeout(settleAbandonedRuns(history, syncId));
      return new HistoryRecorder(history, syncId, warn);
    } catch (error) {
      warn([`cannot record this run in archon_sync_history: ${redact((error as Error).message)}; the sync goes on`]);
      if (client) destroyConnection(client);
      return new HistoryRecorder(undefined, start.syncId, warn);
    }
  }

  /** The row exists and its connection still works: what this run settles will be there for the next one. */
  get recording(): boolean {
    return !this.disabled;
  }

  /** Records new progress; returns at once. */
  update(fields: HistoryFields): void {
    if (this.disabled) return;
    this.pending = { ...this.pending, ...fields };
    if (this.inFlight || this.timer) return;
    const wait = Math.max(0, this.lastWrite + UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  private flush(): void {
    if (this.disabled || !this.client || Object.keys(this.pending).length === 0) return;
    const fields = this.pending;
    this.pending = {};
    this.lastWrite = Date.now();
    this.inFlight = withinTimeout(updateHistoryRow(this.client, this.syncId, fields))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.inFlight = undefined;
        if (Object.keys(this.pending).length > 0) this.update({});
      });
  }

  private fail(error: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    this.warn([`archon_sync_history can no longer be updated (${redact((error as Error).message)}); the sync goes on`]);
    if (this.client) destroyConnection(this.client);
  }

  /** Writes what is pending now and waits for it (a few seconds at most): for facts that must land before COMMIT. */
  async settle(fields: HistoryFields): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.disabled || !this.client) return;
    const client = this.client;
    const write = { ...this.pending, ...fields };
    this.pending = {};
    try {
      await withinTimeout((async () => {
        await this.inFlight;
        await updateHistoryRow(client, this.syncId, write);
      })());
      this.lastWrite = Date.now();
    } catch (error) {
      this.fail(error);
    }
  }

  /** Writes the final state (waiting a few seconds at most) and closes the connection. */
  async finish(fields: HistoryFields): Promise<void> {
    await this.settle(fields);
    await this.close();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.disabled = true;
    const client = this.client;
    if (!client) return;
    await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    destroyConnection(client);
  }
}
