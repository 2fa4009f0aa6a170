// Every default of the library in one place; the CLI shows these same values in --help.

export const DEFAULTS = {
  connectTimeoutMs: 10_000,
  lockTimeoutMs: 10_000,
  /** No bytes moving in a copy, or a server not answering a probe, for this long ends the run. */
  stallTimeoutMs: 60_000,
  maintenanceWorkMem: '256MB',
  maxParallelMaintenanceWorkers: 2,
  sampleLimit: 10,
  schema: 'public',
  /** A run whose old rows would take more than this cannot keep them for undo (backup.limitBytes). */
  backupLimitBytes: 1024 ** 3,
  /** Backups kept per target database (backup.keep). */
  keepBackups: 10,
} as const;
