// Every default of the library in one place; options.ts applies them, and the CLI shows the same values in --help.

export const DEFAULTS = {
  /** Per connection attempt, unless the URI sets connect_timeout. */
  connectTimeoutMs: 10_000,
  /** Per table lock (the target's, and the source's before its snapshot). */
  lockTimeoutMs: 10_000,
  /** No bytes moving in a copy, or a server not answering a probe, for this long ends the run. */
  stallTimeoutMs: 60_000,
  /**
   * A COMMIT that has not returned after this long is cancelled: it waits for a synchronous standby that does not
   * answer (the data is committed on the target, not confirmed by the standby).
   */
  commitTimeoutMs: 60_000,
  maintenanceWorkMem: '256MB',
  maxParallelMaintenanceWorkers: 2,
  sampleLimit: 10,
  schema: 'public',
  mode: 'auto',
  /**
   * Above this share of changed rows, `auto` copies a table in full: row-by-row HNSW inserts lose to one bulk
   * build (measured crossover: 30–37 %, docs/BENCHMARKS.md).
   */
  fullCopyShare: 0.35,
  triggerSuppression: 'auto',
  verify: 'count',
  /** verify() goes by the last sync's watermark when one vouches for a table. */
  watermark: true,
  /** A run whose old rows would take more than this cannot keep them for undo (backup.limitBytes). */
  backupLimitBytes: 1024 ** 3,
  /** Backups kept per target database (backup.keep). */
  keepBackups: 10,
  /**
   * A run that would delete more than this share of any table's target rows is refused (maxDeleteShare), as
   * rclone's bisync refuses to delete more than 50 % of a destination.
   */
  maxDeleteShare: 0.5,
} as const;
