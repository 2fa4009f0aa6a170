// Which recorded runs the backups on this machine can undo: the `history` command's column.

import type pg from 'pg';
import { identityReadable, readTargetIdentity } from '../../pg/backup-statements.js';
import type { UndoMarks } from '../../types.js';
import { BackupStore, targetKey } from './store.js';

/**
 * Per run, whether a backup here can undo it. `completed` says the run committed, for a backup sealed by a
 * process that died before noting it (txid_status() settles those when the next run or undo comes).
 */
export async function undoMarks(client: pg.ClientBase, label: string, backupDir: string, runs: readonly { sync_id: string; status: string }[]): Promise<UndoMarks[]> {
  const identity = await readTargetIdentity(client, await identityReadable(client));
  const store = new BackupStore(backupDir);
  const kept = new Map((await store.list(targetKey({ ...identity, label }))).flatMap((b) => (b.manifest ? [[b.syncId, b.manifest] as const] : [])));
  return runs.map((run) => {
    const manifest = kept.get(run.sync_id);
    if (!manifest) return { undoable: false, undoneBy: null };
    if (manifest.state === 'undone') return { undoable: false, undoneBy: manifest.undoneBy ?? 'an undo' };
    return { undoable: manifest.state === 'committed' || run.status === 'completed', undoneBy: null };
  });
}
