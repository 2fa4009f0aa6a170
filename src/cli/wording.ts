// The library words its advice with option names (lockTimeoutMs); on the command line the same advice names flags.

const FLAG_FOR_OPTION: Record<string, string> = {
  lockTimeoutMs: '--lock-timeout',
  maintenanceWorkMem: '--maintenance-work-mem',
  maxParallelMaintenanceWorkers: '--parallel-maintenance-workers',
  stallTimeoutMs: '--stall-timeout',
  connectTimeoutMs: '--connect-timeout',
};

const OPTION_NAMES = new RegExp(`\\b(${Object.keys(FLAG_FOR_OPTION).join('|')})\\b`, 'g');

/** Rewrites a library message for a command-line user: option names become the flags that set them. */
export function cliWording(message: string): string {
  return message
    .replace(OPTION_NAMES, (name) => FLAG_FOR_OPTION[name] ?? name)
    .replace('point the two URIs at different databases', 'check LOCAL_DATABASE_URI and REMOTE_DATABASE_URI')
    .replace('leave it out of the selection', 'leave it out with --exclude')
    .replace('create it first (init-history)', 'create it with `archon-sync init-history`')
    .replaceAll('backup.limitBytes', '--backup-limit')
    .replaceAll('backup.dir', '--backup-dir')
    .replaceAll('turn backups off for this run (backup: false)', 'add --no-backup to go on without a way to undo it')
    .replaceAll('(backup: false)', '(--no-backup)')
    .replaceAll('force: true', '--force');
}
