// How one table's rows reach the target: the place where a second way of loading (incremental) sits beside the full copy.

import type { IndexInfo } from '../pg/catalog.js';
import { copyTable } from '../pg/copy.js';
import { deleteAllStatement } from '../pg/ddl.js';
import type { KeysRelation } from '../pg/multi-diff.js';
import type { TablePlan, TableResult } from '../types.js';
import type { Session } from './connections.js';

export interface LoadContext {
  session: Session;
  signal: AbortSignal | undefined;
  stallTimeoutMs: number;
  onRows: (rows: number, bytes: number) => void;
}

/**
 * What a load deletes or overwrites on the target, so a backup can keep the old versions before any write: every
 * row (`all`), the rows a staged diff names (`keys`: the target's rows before, and how many of them go), or none.
 */
export type Replaced =
  /** `rowsBefore`: the target's rows now (counted, or told by the comparison). */
  | { kind: 'all'; rowsBefore: number }
  | { kind: 'keys'; keys: KeysRelation; rowsBefore: number; replacedRows: number }
  | { kind: 'none' };

/**
 * No load changes a row (every table compared equal): the run writes nothing to the tables, keeps no backup (there
 * is nothing to undo) and says so in its history row.
 */
export function changesNoRow(loads: readonly TableLoad[]): boolean {
  return loads.every((load) => !load.changed);
}

/** One table's part in each step of the target transaction. */
export interface TableLoad {
  readonly table: TablePlan;
  readonly mode: 'full' | 'incremental';
  /** Secondary indexes to drop while preparing the target (all tables' in one statement). */
  indexesToDrop(): IndexInfo[];
  /** Whether the table is emptied while preparing (all such tables in one TRUNCATE: a parent alone cannot be). */
  readonly truncates: boolean;
  /** Further statements for the message that prepares the target. */
  prepareStatements(): string[];
  /** Whether the load can change the table (it may skip constraint checks when not). */
  readonly changed: boolean;
  /** Rows that travel from the source: what the step bar counts for this table. */
  readonly rowsToCopy: number;
  /** Moves the rows; returns the counts the summary and the checks use. */
  load(context: LoadContext): Promise<Omit<TableResult, 'seconds' | 'targetRows'>>;
  /** Indexes to build after every table is loaded. */
  indexesToBuild(): IndexInfo[];
  /** What the load will delete or overwrite (read before prepareTarget, for the backup). */
  replaces(): Replaced;
}

/**
 * Today's path: empty the table and stream every row. Secondary indexes are dropped before TRUNCATE: TRUNCATE
 * rebuilds every index empty, and an empty HNSW build still plans parallel workers from the old table's size and
 * asks for maintenance_work_mem of shared memory, which a container's /dev/shm may not have. Loading without them
 * and building each once afterwards is also far faster than maintaining them row by row.
 */
export class FullCopy implements TableLoad {
  readonly mode = 'full' as const;
  readonly changed = true;

  /**
   * @param emptyBy `truncate` (with the other full tables, in one statement), or `delete` for a table that tables
   *   loaded incrementally still reference: TRUNCATE refuses a table another table's foreign key points at.
   */
  constructor(
    readonly table: TablePlan,
    /** Rows on the target before the run: the rows this load removes. */
    private readonly targetRows: number,
    private readonly emptyBy: 'truncate' | 'delete' = 'truncate',
  ) {}

  get rowsToCopy(): number {
    return this.table.sourceRows;
  }

  get truncates(): boolean {
    return this.emptyBy === 'truncate';
  }

  prepareStatements(): string[] {
    return this.emptyBy === 'delete' ? [deleteAllStatement(this.table.sql)] : [];
  }

  indexesToDrop(): IndexInfo[] {
    return this.table.indexes;
  }

  async load(context: LoadContext) {
    const { rows, bytes } = await copyTable({
      source: context.session.source,
      target: context.session.target,
      table: this.table.sql,
      columns: this.table.columns,
      format: this.table.format,
      // Allowed only because the table was truncated in this transaction; saves the vacuum pass that sets hint bits.
      freeze: this.truncates,
      signal: context.signal,
      onRows: context.onRows,
      stallTimeoutMs: context.stallTimeoutMs,
    });
    return {
      table: this.table.name, format: this.table.format, mode: this.mode,
      sourceRows: this.table.sourceRows, copiedRows: rows, inserted: rows, updated: 0, deleted: this.targetRows, bytes,
    };
  }

  indexesToBuild(): IndexInfo[] {
    return this.table.indexes;
  }

  replaces(): Replaced {
    return { kind: 'all', rowsBefore: this.targetRows };
  }
}
