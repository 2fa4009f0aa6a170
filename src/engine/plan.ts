// Builds the copy plan from the two catalogs: what to copy, in which order, how, and what would go wrong.

import { CHECK_URIS, EXCLUDE_TABLE, optionNamed, phrase, wordPhrase, type Phrase } from '../advice.js';
import { isArchonTable } from './tables.js';
import { ConfigurationError, ValidationError } from '../errors.js';
import type { Catalog, ColumnInfo, TableInfo } from '../pg/catalog.js';
import type { CopyFormat, SyncPlan, TablePlan } from '../types.js';
import { orderByForeignKeys } from './order.js';

export type { CopyFormat, SequencePlan, SyncPlan, TablePlan, TablePreview } from '../types.js';






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
  readonly list: { message: Phrase; table?: string | undefined }[] = [];
  add(message: string | Phrase, table?: string): void {
    this.list.push({ message: typeof message === 'string' ? [message] : message, table });
  }
  throwIfAny(): void {
    const first = this.list[0];
    if (!first) return;
    const more = this.list.length > 1 ? ` (and ${this.list.length - 1} more problem${this.list.length > 2 ? 's' : ''})` : '';
    throw new ValidationError([...first.message, more], {
      table: first.table,
      failure: 'schema-mismatch',
      problems: this.list.map((p) => p.message),
      details: { problems: this.list.map((p) => wordPhrase(p.message)) },
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
    // Same name, other meaning: an enum's labels (a value travels as its label), a domain's base type, a
    // composite's fields. Copied, such values would fail late or land as something else.
    if (targetColumn.definition !== sourceColumn.definition) {
      problems.add(`${qualified}.${name} is ${sourceColumn.definition} on the source but ${targetColumn.definition} on the target; make the types match before syncing`, qualified);
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
    throw new ConfigurationError(phrase`source and target are the same database (${target.server.database}); ${CHECK_URIS}`, { failure: 'same-database' });
  }
  checkExtensions(input, problems);

  const selected = [...new Set(input.tables)];
  // A name outside the 17 is a choice the caller made by hand: copied only when it is a table on both sides,
  // refused naming it otherwise (a typo must not pass as "an older schema" and copy nothing).
  const outside = selected.filter((name) => !isArchonTable(name));
  const strays = outside.filter((name) => !source.tables.has(name) || !target.tables.has(name));
  if (strays.length > 0) {
    const where = (name: string) => (source.tables.has(name) ? 'only on the source' : target.tables.has(name) ? 'only on the target' : 'on neither side');
    throw new ConfigurationError(phrase`${strays.map((name) => `${schema}.${name} (${where(name)})`).join(', ')} ${strays.length === 1 ? 'is' : 'are'} not ${strays.length === 1 ? 'an Archon table' : 'Archon tables'} and not a table on both sides; check the name in ${optionNamed('tables')}`, {
      failure: 'invalid-option', details: { reason: 'unknown-table', tables: strays },
    });
  }
  for (const name of outside) warnings.push(`${schema}.${name} is not an Archon table; copied because it was named`);
  const skippedTables = selected.filter((name) => !source.tables.has(name) && !target.tables.has(name));
  for (const name of skippedTables) {
    warnings.push(`table ${schema}.${name} exists on neither side (an older Archon schema?); skipped`);
  }
  for (const name of selected) {
    const onSource = source.tables.has(name);
    const onTarget = target.tables.has(name);
    const missingOn = onSource && !onTarget ? 'target' : onTarget && !onSource ? 'source' : undefined;
    if (missingOn) {
      problems.add(phrase`table ${schema}.${name} does not exist on the ${missingOn} (only on the ${missingOn === 'source' ? 'target' : 'source'}); create it there (apply Archon's migrations) or ${EXCLUDE_TABLE}`, `${schema}.${name}`);
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
      oids: { source: sourceTable.oid, target: targetTable.oid },
    });
  }

  const isSelected = (fkSchema: string, table: string) => fkSchema === schema && selectedSet.has(table);
  const externalReferences = target.foreignKeys.filter((fk) => !isSelected(fk.schema, fk.table) && isSelected(fk.refSchema, fk.refTable));
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
