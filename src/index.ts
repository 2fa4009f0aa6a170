// archon-sync's public API: sync, plan, verify, undo, the history helpers, their option/result/event types and the error classes.

export { sync, plan } from './engine/sync.js';
export { verify } from './engine/verify.js';
export { undo, findBackups } from './engine/undo.js';
export { defaultBackupDir } from './engine/backup/options.js';
export { formatBytes } from './engine/backup/estimate.js';
export { history, initHistory } from './engine/history-admin.js';
export { DEFAULTS } from './engine/defaults.js';
export { ARCHON_TABLES, HISTORY_TABLE } from './engine/tables.js';
export { newSyncId } from './engine/history.js';
export { describeEndpoint } from './pg/connect.js';
export { redact } from './pg/redact.js';
export { LIBRARY_WORDING, wordPhrase } from './advice.js';
export {
  ArchonSyncError,
  ConfigurationError,
  ConnectionError,
  ValidationError,
  CopyError,
  VerificationError,
  CancelledError,
  CommitUnconfirmedError,
  isArchonSyncError,
} from './errors.js';
export type { ArchonSyncErrorCode } from './errors.js';
export type * from './types.js';
