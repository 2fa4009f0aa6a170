// The manifest of one run's backup: what was saved, from which database, and how to put it back.

import type { SequenceState } from '../../pg/backup-statements.js';
import type { BackupState } from '../../types.js';

export const MANIFEST_FORMAT = 'archon-sync-backup';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export type { BackupState } from '../../types.js';

/**
 * How an undo puts a table back. `all`: the run emptied it (a full copy), the file holds every row it had.
 * `keys`: the run deleted or overwrote some rows (incremental); the file holds their old versions and the keys
 * file every key the run inserted, overwrote or deleted. `none`: the run left it as it was (only checked).
 */
export type RestoreKind = 'all' | 'keys' | 'none';

export interface BackupTable {
  /** Unqualified name. */
  table: string;
  /** Quoted, schema-qualified name. */
  sql: string;
  restore: RestoreKind;
  /** Every non-generated target column, in the order the files hold them. */
  columns: string[];
  /** md5 of the table's definition (columns, constraints, indexes, triggers) before the run, which the run leaves as it was. */
  definition: string;
  /** Primary-key columns (for `keys`), in key order. */
  key: string[];
  format: 'binary' | 'text';
  /** Rows the table had before the run, and after it (what the run verified). */
  rowsBefore: number;
  rowsAfter: number;
  /** File of old rows (binary or text COPY data, as `format` says), in the run's directory. */
  file?: string | undefined;
  rows: number;
  /** File of keys (`keys` tables), in key order, same format. */
  keysFile?: string | undefined;
  keys: number;
  bytes: number;
}

/** A sequence's state before the run, and the column it feeds (to move it past rows kept by a forced undo). */
export interface SavedSequence extends SequenceState {
  /** Quoted, schema-qualified table. */
  table: string;
  column: string;
  increment: number;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  syncId: string;
  state: BackupState;
  /** ISO time the backup was sealed. */
  createdAt: string;
  undoneBy?: string | undefined;
  undoneAt?: string | undefined;
  /** As the run's history options named them, when it had some. */
  direction?: 'local-to-remote' | 'remote-to-local' | undefined;
  sourceDb?: string | undefined;
  targetDb?: string | undefined;
  /** host:port/database of each side, without passwords. */
  source: string;
  target: {
    label: string;
    /** current_database(). */
    name: string;
    /** pg_control_system().system_identifier and the timeline (null where the role could not read them), and the database oid. */
    system: string | null;
    timeline: number | null;
    database: string;
  };
  /** The run's transaction id and the snapshot it took after locking its tables: what "written since" is measured from. */
  run: { xid: string; snapshot: string };
  schema: string;
  /** In load order (parents first). */
  tables: BackupTable[];
  sequences: SavedSequence[];
  bytes: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The manifest in `text`, or undefined when it is not one this version can read. */
export function parseManifest(text: string): BackupManifest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.format !== MANIFEST_FORMAT || value.version !== MANIFEST_VERSION) return undefined;
  const { run, target, tables, sequences } = value;
  if (typeof value.syncId !== 'string' || !['sealed', 'committed', 'undone'].includes(value.state as string)) return undefined;
  if (!isRecord(run) || typeof run.xid !== 'string' || typeof run.snapshot !== 'string') return undefined;
  if (!isRecord(target) || typeof target.database !== 'string') return undefined;
  if (!Array.isArray(tables) || !Array.isArray(sequences)) return undefined;
  return value as unknown as BackupManifest;
}
