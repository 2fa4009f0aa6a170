// Tests written before issue 25 sync over targets they mean to overwrite (emptied sources, diverged targets,
// rows edited by hand): they run with the deletion guard off and the target's own edits overwritten, as a user
// who chose it would. The safety tests (test/integration/safety.test.ts, test/cli/safety.test.ts) leave the
// defaults on.

export const UNGUARDED = { maxDeleteShare: 1, targetChanges: 'overwrite' } as const;

/** The same, as flags of a sync on the command line. */
export const UNGUARDED_FLAGS = ['--max-delete=100', '--target-changes=overwrite'];

const OTHER_COMMANDS = new Set(['verify', 'history', 'init-history', 'undo', '--help', '-h', '--version']);

/** Adds UNGUARDED_FLAGS to the arguments of a sync (the default command), unless `guarded`. */
export function unguardedArgs(args: readonly string[], guarded: boolean | undefined): string[] {
  if (guarded || args.some((a) => OTHER_COMMANDS.has(a)) || args.some((a) => a.startsWith('--max-delete') || a.startsWith('--target-changes'))) return [...args];
  return [...args, ...UNGUARDED_FLAGS];
}
