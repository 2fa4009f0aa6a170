// Watches another backend's CREATE INDEX through pg_stat_progress_create_index, from a connection of its own.

import type pg from 'pg';
import { destroyConnection } from './connect.js';

/** One reading of pg_stat_progress_create_index for the watched backend. */
export interface IndexBuildSample {
  /**
   * The server's phase text, e.g. `building index: scanning table` (B-tree) or `building index: loading tuples`
   * (pgvector's HNSW; its ivfflat adds `performing k-means` and `assigning tuples`).
   */
  phase: string;
  blocksDone: number;
  blocksTotal: number;
  tuplesDone: number;
  tuplesTotal: number;
  /** The table being indexed, when its name is visible to the monitor's connection. */
  table: string | undefined;
  /**
   * The index, when the server names it. For a plain CREATE INDEX it does not: index_relid is 0 there, and the new
   * index lives in the builder's uncommitted transaction, invisible to ours. The caller knows which index it started.
   */
  index: string | undefined;
  /** The position in its batch the builder announced (BUILDING_MARK), when it did. */
  position: number | undefined;
  command: string;
  /** `now()` of the monitor when the query that read this sample was sent: a sample older than a build is not about it. */
  sampledAt: number;
}

export interface IndexProgressMonitorOptions {
  /** Pause between readings; default 500 ms. */
  intervalMs?: number | undefined;
  now?: (() => number) | undefined;
  /** The connection is lent (a sidecar that also carries other statements): the monitor leaves it open when it stops. */
  shared?: boolean | undefined;
}

const DEFAULT_INTERVAL_MS = 500;
// The view is in memory and answers at once; anything slower means trouble we should not wait on.
const STATEMENT_TIMEOUT_MS = 2000;

/**
 * pg_stat_progress_create_index cannot name an index created in an uncommitted transaction, so the builder sets
 * its application_name to this followed by the index's position in its batch (SET LOCAL, before each CREATE
 * INDEX; a position, since a name could outgrow the 63 bytes application_name keeps) and the monitor reads it
 * back from pg_stat_activity.
 */
export const BUILDING_MARK = 'archon-sync: building index ';

const PROGRESS_SQL = `
  SELECT p.phase, p.command, a.application_name,
         p.blocks_done::float8 AS blocks_done, p.blocks_total::float8 AS blocks_total,
         p.tuples_done::float8 AS tuples_done, p.tuples_total::float8 AS tuples_total,
         t.relname AS table_name, i.relname AS index_name
    FROM pg_stat_progress_create_index p
    LEFT JOIN pg_class t ON t.oid = p.relid
    LEFT JOIN pg_class i ON i.oid = p.index_relid AND p.index_relid <> 0
    LEFT JOIN pg_stat_activity a ON a.pid = p.pid
   WHERE p.pid = $1`;

interface ProgressRow {
  phase: string | null;
  command: string | null;
  blocks_done: number | null;
  blocks_total: number | null;
  tuples_done: number | null;
  tuples_total: number | null;
  table_name: string | null;
  index_name: string | null;
  application_name: string | null;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function count(value: number | null): number {
  return value !== null && Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Polls the progress of one backend's index builds and hands each reading to `onSample`. It never throws into
 * its caller: a monitor that cannot connect or read just goes quiet (the build itself is not affected). It
 * polls until `stop()`, which ends its connection, so no backend of ours outlives the index phase.
 */
export class IndexProgressMonitor {
  private stopped = false;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private readonly loop: Promise<void>;
  private failure: unknown;

  private constructor(
    private readonly connect: () => Promise<pg.Client>,
    private readonly pid: number,
    private readonly onSample: (sample: IndexBuildSample) => void,
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly shared: boolean,
  ) {
    this.loop = this.run();
  }

  /** Starts watching backend `pid` on a connection from `connect` (never the builder's). */
  static start(
    connect: () => Promise<pg.Client>,
    pid: number,
    onSample: (sample: IndexBuildSample) => void,
    options: IndexProgressMonitorOptions = {},
  ): IndexProgressMonitor {
    return new IndexProgressMonitor(connect, pid, onSample, options.intervalMs ?? DEFAULT_INTERVAL_MS, options.now ?? Date.now, options.shared ?? false);
  }

  /** Why the monitor went quiet, if it did (for logs and tests; the sync does not need it). */
  get error(): unknown {
    return this.failure;
  }

  /** Stops polling and closes the connection; resolves when it is closed. Safe to call more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      client = await this.connect();
      // A connection error after this point must not become an unhandled 'error' event.
      if (!this.shared) client.on('error', (error) => { this.failure ??= error; });
      while (!this.stopped) {
        const sampledAt = this.now();
        // Timed on our side: a session-level SET statement_timeout would stay on a pooled server connection.
        const result = await withTimeout(client.query<ProgressRow>(PROGRESS_SQL, [this.pid]), STATEMENT_TIMEOUT_MS);
        const row = result.rows[0];
        if (row && !this.stopped) {
          this.onSample({
            phase: row.phase ?? '',
            command: row.command ?? '',
            blocksDone: count(row.blocks_done),
            blocksTotal: count(row.blocks_total),
            tuplesDone: count(row.tuples_done),
            tuplesTotal: count(row.tuples_total),
            table: row.table_name ?? undefined,
            index: row.index_name ?? undefined,
            position: row.application_name?.startsWith(BUILDING_MARK) ? Number(row.application_name.slice(BUILDING_MARK.length)) : undefined,
            sampledAt,
          });
        }
        await this.sleep();
      }
    } catch (error) {
      // Quiet from here on: progress is a nicety, the index build is what matters.
      this.failure = error;
    } finally {
      if (this.shared) client = undefined;
      const ending = client?.end().catch(() => undefined);
      // A server that stopped answering would keep end() waiting; the socket is ours to close.
      await Promise.race([ending, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      if (client) destroyConnection(client);
    }
  }

  private sleep(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, this.intervalMs);
      // Never the reason the process stays alive.
      this.sleepTimer.unref();
    });
  }
}
