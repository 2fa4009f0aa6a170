// Writes the run's row in the target's archon_sync_history on its own autocommit connection, never slowing the copy.

import type pg from 'pg';
import { redact } from '../pg/redact.js';
import {
  findRunningSyncId,
  historyTableExists,
  insertHistoryRow,
  markAbandonedRuns,
  updateHistoryRow,
  type HistoryFields,
} from '../pg/history-statements.js';

export type { HistoryFields } from '../pg/history-statements.js';

export interface HistoryStart {
  syncId: string;
  direction: string;
  triggeredBy: string;
  sourceDb: string;
  targetDb: string;
  metadata: Record<string, unknown>;
}

/** `sync_YYYYMMDD_HHMMSS` in UTC, the id format Archon's own script uses. */
export function newSyncId(date: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `sync_${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

const UPDATE_INTERVAL_MS = 1000;
const FINAL_WRITE_TIMEOUT_MS = 5000;

/**
 * One history row, kept current. Updates are coalesced (the latest state wins) and written at most once a
 * second, one at a time; a failing or slow history connection produces one warning and is then ignored.
 */
export class HistoryRecorder {
  private pending: HistoryFields = {};
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private disabled = false;
  /** The id actually written (a suffix is added when another run took the same second). */
  syncId: string;

  private constructor(
    private readonly client: pg.Client | undefined,
    syncId: string,
    private readonly warn: (message: string) => void,
  ) {
    this.syncId = syncId;
    this.disabled = client === undefined;
  }

  /**
   * Connects and inserts the `running` row; on any problem warns once and returns a recorder that does nothing.
   * Call it only while holding the sync lock (it marks rows of dead runs as failed).
   */
  static async start(
    connectHistory: () => Promise<pg.Client>,
    start: HistoryStart,
    warn: (message: string) => void,
  ): Promise<HistoryRecorder> {
    let client: pg.Client | undefined;
    try {
      client = await connectHistory();
      // A stuck history write must never hold up the sync's end.
      await client.query('SET statement_timeout = 5000');
      if (!(await historyTableExists(client))) {
        warn('the target has no archon_sync_history table, so this run is not recorded; create it with `archon-sync init-history`');
        await client.end().catch(() => undefined);
        return new HistoryRecorder(undefined, start.syncId, warn);
      }
      const syncId = await insertHistoryRow(client, start);
      // Called with the sync lock held, so any other `running` row is a run that died without a word.
      await markAbandonedRuns(client, syncId);
      return new HistoryRecorder(client, syncId, warn);
    } catch (error) {
      warn(`cannot record this run in archon_sync_history: ${redact((error as Error).message)}; the sync goes on`);
      await client?.end().catch(() => undefined);
      return new HistoryRecorder(undefined, start.syncId, warn);
    }
  }

  get enabled(): boolean {
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
    this.inFlight = updateHistoryRow(this.client, this.syncId, fields)
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.inFlight = undefined;
        if (Object.keys(this.pending).length > 0) this.update({});
      });
  }

  private fail(error: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    this.warn(`archon_sync_history can no longer be updated (${redact((error as Error).message)}); the sync goes on`);
    this.client?.end().catch(() => undefined);
  }

  /** Writes the final state (waiting a few seconds at most) and closes the connection. */
  async finish(fields: HistoryFields): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.disabled || !this.client) return;
    const client = this.client;
    const final = { ...this.pending, ...fields };
    this.pending = {};
    const write = (async () => {
      await this.inFlight;
      await updateHistoryRow(client, this.syncId, final);
    })();
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        write,
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error('timed out')), FINAL_WRITE_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      clearTimeout(timeout);
    }
    this.disabled = true;
    await client.end().catch(() => undefined);
  }

  /** Closes without a final write (used when the recorder was never needed). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.disabled = true;
    await this.client?.end().catch(() => undefined);
  }
}

export { findRunningSyncId };
