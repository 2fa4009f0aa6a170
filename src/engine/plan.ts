// Builds the copy plan from the two catalogs: what to copy, in which order, how, and what would go wrong.

import { ConfigurationError, ValidationError } from '../errors.js';
import type { BackupEstimate } from './backup/estimate.js';
import type { Catalog, ColumnInfo, ForeignKeyInfo, IndexInfo, SequenceInfo, ServerInfo, TableInfo, TriggerInfo } from '../pg/catalog.js';
import { orderByForeignKeys } from './order.js';

export type CopyFormat = 'binary' | 'text';

export interface TablePlan {
  schema: string;
  name: string;
  /** Quoted, schema-qualified name for SQL. */
  sql: string;
  /** Columns copied, matched by name; generated columns are left out and recomputed by the target. */
  columns: string[];
  format: CopyFormat;
  /** Why the table travels as text, when it does. */
  formatReason: string | undefined;
  /** Columns whose binary form embeds type OIDs on either side: compared through their text form. */
  textColumns: string[];
  /** Rows in the source snapshot. */
  sourceRows: number;
  /** Target indexes dropped before loading and re-created after it (those that back no constraint). */
  indexes: IndexInfo[];
  /** Estimated bytes of the source table (pg_table_size): what a full copy moves, roughly. */
  sourceBytes: number;
  /** Target sequences the table's columns own or draw from, moved past every id after loading. */
  sequences: SequencePlan[];
  /** Target columns the source lacks: they get their default (or NULL). */
  targetOnlyColumns: string[];
  /** The target's primary-key columns (what checksum verification matches rows on). */
  primaryKey: string[];
}

/** What a run would do to one table: its mode and, when its rows were compared, how many it would move. */
export interface TablePreview {
  mode: 'full' | 'incremental';
  /** Why the table is copied in full, when it is. */
  reason?: string | undefined;
  inserts?: number | undefined;
  updates?: number | undefined;
  deletes?: number | undefined;
}

export interface SequencePlan extends SequenceInfo {
  /** The matching source sequence's last value (null: never called or unreadable): ids are never reused. */
  sourceLastValue: number | null;
}

export interface SyncPlan {
  schema: string;
  tables: TablePlan[];
  /** Selected tables that exist on neither side (an older Archon schema): nothing to copy, nothing lost. */
  skippedTables: string[];
  /** With plan({ preview }), per table: the mode a sync would use and the rows it would change. */
  preview?: Record<string, TablePreview> | undefined;
  /** From plan(): what keeping the old rows for undo would take, and whether a run can (unless backups are off). */
  backup?: BackupEstimate | undefined;
  totalRows: number;
  source: ServerInfo;
  target: ServerInfo;
  /** Target FKs from tables outside the selection into it: set aside during the load, put back validated. */
  externalReferences: ForeignKeyInfo[];
  /** Target FKs whose referencing table is selected: checked after the load when FK triggers were skipped. */
  foreignKeys: ForeignKeyInfo[];
  /** Enabled user triggers on the selected target tables; none may fire while we load. */
  triggers: TriggerInfo[];
  warnings: string[];
}

export interface PlanInput {
  schema: string;
  tables: readonly string[];
  source: Catalog;
  target: Catalog;
  sourceRows: Map<string, number>;
}

/** Extension types whose absence on the target we can name precisely. */
const EXTENSION_OF_TYPE: Record<string, string> = {
  vector: 'vector', halfvec: 'vector', sparsevec: 'vector', ltree: 'ltree', lquery: 'ltree', citext: 'citext', hstore: 'hstore',
};

function baseTypeName(type: string): string {
  return type.replace(/\(.*$/, '').replace(/\[\]$/, '').trim();
}

class Problems {
  readonly list: { message: string; table?: string | undefined }[] = [];
  add(message: string, table?: string): void {
    this.list.push({ message, table });
  }
  throwIfAny(): void {
    const first = this.list[0];
    if (!first) return;
    const more = this.list.length > 1 ? ` (and ${this.list.length - 1} more problem${this.list.length > 2 ? 's' : ''})` : '';
    throw new ValidationError(`${first.message}${more}`, {
      table: first.table,
      details: { problems: this.list.map((p) => p.message) },
    });
  }
}

function checkExtensions(input: PlanInput, problems: Problems): void {
  const needed = new Set<string>();
  for (const table of input.source.tables.values()) {
    for (const column of table.columns) {
      const extension = EXTENSION_OF_TYPE[baseTypeName(column.type)];
      if (extension) needed.add(extension);
    }
  }
  for (const extension of needed) {
    if (!input.target.server.extensions[extension]) {
      problems.add(`the target database has no "${extension}" extension; enable it there first (CREATE EXTENSION ${extension}; on Supabase: Database → Extensions)`);
    }
  }
}

function matchColumns(qualified: string, source: TableInfo, target: TableInfo, problems: Problems, warnings: string[]) {
  const sourceColumns = new Map(source.columns.filter((c) => !c.generated).map((c) => [c.name, c]));
  const targetColumns = new Map(target.columns.map((c) => [c.name, c]));
  const columns: string[] = [];
  const targetOnlyColumns: string[] = [];
  const unsafe: string[] = [];
  const textColumns: string[] = [];
  for (const [name, sourceColumn] of sourceColumns) {
    const targetColumn = targetColumns.get(name);
    if (!targetColumn) {
      problems.add(`${qualified}.${name} (${sourceColumn.type}) exists on the source but not on the target; add the column to the target or exclude the table`, qualified);
      continue;
    }
    if (targetColumn.generated) {
      problems.add(`${qualified}.${name} is a generated column on the target but a plain column on the source; its values cannot be copied`, qualified);
      continue;
    }
    if (targetColumn.type !== sourceColumn.type) {
      problems.add(`${qualified}.${name} is ${sourceColumn.type} on the source but ${targetColumn.type} on the target; make the types match before syncing`, qualified);
      continue;
    }
    for (const reason of [sourceColumn.binaryUnsafeReason, targetColumn.binaryUnsafeReason]) {
      if (reason) unsafe.push(`${name}: ${reason}`);
    }
    if (sourceColumn.binaryUnsafeReason || targetColumn.binaryUnsafeReason) textColumns.push(name);
    columns.push(name);
  }
  for (const targetColumn of target.columns) {
    if (targetColumn.generated || sourceColumns.has(targetColumn.name)) continue;
    if (source.columns.some((c: ColumnInfo) => c.name === targetColumn.name && c.generated)) {
      warnings.push(`${qualified}.${targetColumn.name} is generated on the source but not on the target; it is left to its default there`);
    }
    if (targetColumn.notNull && !targetColumn.hasDefault) {
      problems.add(`${qualified}.${targetColumn.name} exists only on the target and is NOT NULL without a default; add it to the source or give it a default`, qualified);
      continue;
    }
    targetOnlyColumns.push(targetColumn.name);
    warnings.push(`${qualified}.${targetColumn.name} exists only on the target; copied rows get its ${targetColumn.hasDefault ? 'default' : 'NULL'}`);
  }
  // Target column order: COPY lists are explicit, so either order works; the target's reads naturally.
  const targetOrder = target.columns.map((c) => c.name).filter((n) => columns.includes(n));
  return { columns: targetOrder, targetOnlyColumns, unsafe, textColumns };
}

function checkAccess(qualified: string, source: TableInfo, target: TableInfo, input: PlanInput, problems: Problems): void {
  if (source.rowSecurityActive) {
    problems.add(`row-level security hides rows of ${qualified} from role "${input.source.server.user}" on the source; connect as the table owner or a role with BYPASSRLS`, qualified);
  }
  if (!target.ownedByUs) {
    problems.add(`role "${input.target.server.user}" does not own ${qualified} on the target (owner: ${target.owner}); connect as the owner, who may truncate it and rebuild its indexes`, qualified);
  } else if (target.rowSecurityActive) {
    problems.add(`row-level security applies to ${qualified} on the target for role "${input.target.server.user}" (FORCE ROW LEVEL SECURITY?); COPY cannot load it`, qualified);
  }
  if (target.kind !== 'r') {
    problems.add(`${qualified} is a partitioned table on the target; archon-sync copies plain tables only`, qualified);
  }
}

/** Compares the catalogs and returns the plan, or throws a ValidationError naming every problem found. */
export function buildPlan(input: PlanInput): SyncPlan {
  const problems = new Problems();
  const warnings: string[] = [];
  const { schema, source, target } = input;
  if (source.server.identity === target.server.identity) {
    throw new ConfigurationError(`source and target are the same database (${target.server.database}); point the two URIs at different databases`);
  }
  checkExtensions(input, problems);

  const selected = [...new Set(input.tables)];
  const skippedTables = selected.filter((name) => !source.tables.has(name) && !target.tables.has(name));
  for (const name of skippedTables) {
    warnings.push(`table ${schema}.${name} exists on neither side (an older Archon schema?); skipped`);
  }
  for (const name of selected) {
    const onSource = source.tables.has(name);
    const onTarget = target.tables.has(name);
    const missingOn = onSource && !onTarget ? 'target' : onTarget && !onSource ? 'source' : undefined;
    if (missingOn) {
      problems.add(`table ${schema}.${name} does not exist on the ${missingOn} (only on the ${missingOn === 'source' ? 'target' : 'source'}); create it there (apply Archon's migrations) or leave it out of the selection`, `${schema}.${name}`);
    }
  }

  const present = selected.filter((n) => source.tables.has(n) && target.tables.has(n));
  const selectedSet = new Set(present);
  const { order, cycle } = orderByForeignKeys(present, target.foreignKeys
    .filter((fk) => fk.schema === schema && fk.refSchema === schema)
    .map((fk) => ({ child: fk.table, parent: fk.refTable })));
  if (cycle.length > 0) {
    warnings.push(`foreign keys form a cycle through ${cycle.join(', ')}; their rows are checked after loading`);
  }

  const tables: TablePlan[] = [];
  for (const name of order) {
    const sourceTable = source.tables.get(name);
    const targetTable = target.tables.get(name);
    if (!sourceTable || !targetTable) continue;
    const qualified = `${schema}.${name}`;
    checkAccess(qualified, sourceTable, targetTable, input, problems);
    const { columns, targetOnlyColumns, unsafe, textColumns } = matchColumns(qualified, sourceTable, targetTable, problems, warnings);
    const format: CopyFormat = unsafe.length > 0 ? 'text' : 'binary';
    if (format === 'text') warnings.push(`${qualified} is copied in text format (${unsafe.join('; ')})`);
    const indexes = target.indexes.filter((i) => i.table === name && i.schema === schema && !i.backsConstraint);
    for (const index of indexes.filter((i) => !i.valid)) {
      warnings.push(`index ${index.name} on ${qualified} is invalid on the target; it is rebuilt valid`);
    }
    for (const [side, table] of [['source', sourceTable], ['target', targetTable]] as const) {
      if (table.inheritedBy.length > 0) {
        warnings.push(`${qualified} has tables inheriting from it on the ${side} (${table.inheritedBy.join(', ')}); only its own rows are copied, theirs are left alone`);
      }
    }
    tables.push({
      schema,
      name,
      sql: targetTable.sql,
      columns,
      format,
      formatReason: format === 'text' ? unsafe.join('; ') : undefined,
      textColumns,
      sourceRows: input.sourceRows.get(name) ?? 0,
      indexes,
      sourceBytes: sourceTable.bytes,
      sequences: target.sequences.filter((s) => s.table === name && s.schema === schema).map((sequence) => ({
        ...sequence,
        sourceLastValue: source.sequences.find((s) => s.table === name && s.column === sequence.column)?.lastValue ?? null,
      })),
      targetOnlyColumns,
      primaryKey: sourceTable.primaryKey.join(',') === targetTable.primaryKey.join(',') ? targetTable.primaryKey : [],
    });
  }

  const isSelected = (fkSchema: string, table: string) => fkSchema === schema && selectedSet.has(table);
  const externalReferences = target.foreignKeys.filter((fk) => !isSelected(fk.schema, fk.table) && isSelected(fk.refSchema, fk.refTable));
  for (const fk of externalReferences) {
    warnings.push(`${fk.schema}.${fk.table} (not copied) references ${fk.refTable} through ${fk.name}; its rows are kept, and checked after loading whenever ${fk.refTable} changed`);
  }
  problems.throwIfAny();
  return {
    schema,
    tables,
    skippedTables,
    totalRows: tables.reduce((sum, t) => sum + t.sourceRows, 0),
    source: source.server,
    target: target.server,
    externalReferences,
    foreignKeys: target.foreignKeys.filter((fk) => isSelected(fk.schema, fk.table)),
    triggers: target.triggers.filter((t) => isSelected(t.schema, t.table) && t.mode !== 'D'),
    warnings,
  };
}
