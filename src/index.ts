// archon-sync's public API: sync, plan, verify, undo, the history helpers, their option/result/event types and the error classes.

export { sync } from './engine/sync.js';
export type { SyncOptions, SyncResult, TableResult, HistoryOptions, SyncMode } from './engine/sync.js';
export { plan } from './engine/dry-run.js';
export type { PlanOptions, TablePreview } from './engine/dry-run.js';
export { undo, findBackups } from './engine/undo.js';
export type { UndoOptions, UndoResult, UndoTableResult, BackupSummary } from './engine/undo.js';
export type { BackupOptions } from './engine/backup/options.js';
export { defaultBackupDir } from './engine/backup/options.js';
export type { BackupReport } from './engine/backup/run-backup.js';
export type { BackupEstimate } from './engine/backup/estimate.js';
export { formatBytes } from './engine/backup/estimate.js';
export { verify } from './engine/verify.js';
export type { VerifyOptions, VerifyResult } from './engine/verify.js';
export { history, initHistory } from './engine/history-admin.js';
export type { HistoryQuery, HistoryRow } from './engine/history-admin.js';
export type { TableComparison, KeySample } from './engine/compare.js';
export type { ConnectionOptions } from './engine/connections.js';
export type { SyncPlan, TablePlan, CopyFormat } from './engine/plan.js';
export type { SyncEvent, SyncEventListener, SyncPhase, ProgressFields, TriggerSuppression } from './engine/events.js';
export { DEFAULTS } from './engine/defaults.js';
export { ARCHON_TABLES, HISTORY_TABLE } from './engine/tables.js';
export { newSyncId } from './engine/history.js';
export { describeEndpoint } from './pg/connect.js';
export type { Endpoint } from './pg/connect.js';
export { redact } from './pg/redact.js';
export {
  ArchonSyncError,
  ConfigurationError,
  ConnectionError,
  ValidationError,
  CopyError,
  VerificationError,
  CancelledError,
  isArchonSyncError,
} from './errors.js';
export type { ArchonSyncErrorCode } from './errors.js';
