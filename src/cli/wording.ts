// The library words its advice with option names (lockTimeoutMs); on the command line the same advice names flags.

import type { AdvisedOption, Wording } from '../index.js';

const FLAG_FOR_OPTION: Record<AdvisedOption, string> = {
  lockTimeoutMs: '--lock-timeout',
  stallTimeoutMs: '--stall-timeout',
  commitTimeoutMs: '--commit-timeout',
  connectTimeoutMs: '--connect-timeout',
  maintenanceWorkMem: '--maintenance-work-mem',
  maxParallelMaintenanceWorkers: '--parallel-maintenance-workers',
  sampleLimit: '--sample',
  mode: '--mode',
  verify: '--verify',
  tables: '--tables',
  // Not settable from the command line; named as the library does, should one ever be reported.
  fullCopyShare: 'fullCopyShare',
  triggerSuppression: 'triggerSuppression',
  schema: 'schema',
  maxDeleteShare: '--max-delete',
  targetChanges: '--target-changes=overwrite',
  'backup.limitBytes': '--backup-limit',
  'backup.dir': '--backup-dir',
  backup: '--no-backup',
  force: '--force',
};

/** The CLI's words; `database` (local or remote) completes the init-history command where it is known. */
export function cliWording(database?: 'local' | 'remote'): Wording {
  return {
    option: (option) => FLAG_FOR_OPTION[option],
    initHistory: `\`archon-sync init-history${database ? ` --database ${database}` : ''}\``,
    excludeTable: 'leave it out with --exclude',
    checkUris: 'check LOCAL_DATABASE_URI and REMOTE_DATABASE_URI',
  };
}
