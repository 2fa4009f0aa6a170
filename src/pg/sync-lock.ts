// The two-key advisory lock private to archon-sync ("ARCH", 1): one sync at a time per target database. Taken by
// the run's transaction (transactions.ts), tested by the history's settling and its holders read (history-statements.ts).

export const SYNC_LOCK_CLASS = 0x41524348;
export const SYNC_LOCK_OBJECT = 1;
