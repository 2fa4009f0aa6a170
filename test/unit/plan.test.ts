// The plan from two catalogs: order, column matching, skipped and one-sided tables, problems and warnings.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigurationError, ValidationError } from '../../src/errors.js';
import { buildPlan } from '../../src/engine/plan.js';
import type { Catalog, ColumnInfo, ForeignKeyInfo, IndexInfo, ServerInfo, TableInfo } from '../../src/pg/catalog.js';

function server(identity: string, extensions: string[] = ['vector']): ServerInfo {
  return {
    version: 'PostgreSQL 15', user: 'owner', database: 'db', identity, ssl: false, versionShort: '15.20', port: 5432, backendPid: 1, versionNum: 150020, identityReadable: true,
    pooler: undefined, extensions: Object.fromEntries(extensions.map((e) => [e, { version: '1', schema: 'public' }])),
  };
}

function column(name: string, type = 'text', extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name, type, definition: extra.definition ?? type, notNull: false, hasDefault: false, generated: false, binaryUnsafeReason: undefined, ...extra };
}

function table(name: string, columns: ColumnInfo[], extra: Partial<TableInfo> = {}): TableInfo {
  return {
    oid: 1, schema: 'public', name, sql: `"public"."${name}"`, kind: 'r', owner: 'owner', ownedByUs: true, rowSecurityActive: false,
    inheritedBy: [], bytes: 8192, columns, primaryKey: ['id'], ...extra,
  };
}

function index(name: string, tableName: string, extra: Partial<IndexInfo> = {}): IndexInfo {
  return {
    name, schema: 'public', table: tableName, definition: `CREATE INDEX ${name} ON ${tableName} (id)`, method: 'btree', valid: true,
    backsConstraint: false, replicaIdentity: false, clustered: false, comment: null, tablespace: null, statistics: [], ...extra,
  };
}

function fk(child: string, parent: string): ForeignKeyInfo {
  return { name: `${child}_fk`, schema: 'public', table: child, columns: [`${parent}_id`], refSchema: 'public', refTable: parent, refColumns: ['id'], definition: '', validated: true };
}

function catalog(identity: string, tables: TableInfo[], more: Partial<Catalog> = {}): Catalog {
  return { server: server(identity), tables: new Map(tables.map((t) => [t.name, t])), foreignKeys: [], indexes: [], triggers: [], sequences: [], ...more };
}

const id = column('id', 'uuid', { notNull: true, hasDefault: true });

test('orders parents before children, whatever order the selection names them in', () => {
  const tables = [table('tasks', [id, column('projects_id', 'uuid')]), table('projects', [id])];
  const fks = [fk('tasks', 'projects')];
  const plan = buildPlan({
    schema: 'public', tables: ['tasks', 'projects'], sourceRows: new Map([['tasks', 5], ['projects', 2]]),
    source: catalog('a', tables), target: catalog('b', tables, { foreignKeys: fks }),
  });
  assert.deepEqual(plan.tables.map((t) => t.name), ['projects', 'tasks']);
  assert.equal(plan.totalRows, 7);
  assert.deepEqual(plan.foreignKeys.map((f) => f.name), ['tasks_fk']);
});

test('matches columns by name in the target order, leaves generated ones out and warns about target-only ones', () => {
  const source = table('pages', [id, column('content'), column('search', 'tsvector', { generated: true }), column('url')]);
  const target = table('pages', [column('url'), id, column('content'), column('search', 'tsvector', { generated: true }), column('note')]);
  const plan = buildPlan({ schema: 'public', tables: ['pages'], sourceRows: new Map(), source: catalog('a', [source]), target: catalog('b', [target]) });
  assert.deepEqual(plan.tables[0]?.columns, ['url', 'id', 'content']);
  assert.deepEqual(plan.tables[0]?.targetOnlyColumns, ['note']);
  assert.ok(plan.warnings.some((w) => w.includes('pages.note exists only on the target')));
});

test('an Archon table on neither side is skipped with a warning; on one side only it is a problem naming the side', () => {
  const plan = buildPlan({ schema: 'public', tables: ['archon_settings', 'archon_llm_pricing'], sourceRows: new Map(), source: catalog('a', [table('archon_settings', [id])]), target: catalog('b', [table('archon_settings', [id])]) });
  assert.deepEqual(plan.tables.map((t) => t.name), ['archon_settings']);
  assert.deepEqual(plan.skippedTables, ['archon_llm_pricing']);
  assert.ok(plan.warnings.some((w) => w.includes('archon_llm_pricing exists on neither side')));
  assert.throws(
    () => buildPlan({ schema: 'public', tables: ['archon_settings', 'archon_prompts'], sourceRows: new Map(), source: catalog('a', [table('archon_settings', [id]), table('archon_prompts', [id])]), target: catalog('b', [table('archon_settings', [id])]) }),
    (error: unknown) => error instanceof ValidationError && /public\.archon_prompts does not exist on the target \(only on the source\)/.test(error.message),
  );
});

test('a name outside the 17 is refused unless it is a table on both sides, then copied with a warning', () => {
  const both = catalog('a', [table('notes', [id])]);
  assert.throws(() => buildPlan({ schema: 'public', tables: ['archon_sourcez'], sourceRows: new Map(), source: both, target: catalog('b', [table('notes', [id])]) }),
    (error: unknown) => error instanceof ConfigurationError && /public\.archon_sourcez \(on neither side\) is not an Archon table/.test(error.message));
  assert.throws(() => buildPlan({ schema: 'public', tables: ['notes'], sourceRows: new Map(), source: both, target: catalog('b', []) }),
    (error: unknown) => error instanceof ConfigurationError && /public\.notes \(only on the source\)/.test(error.message));
  const plan = buildPlan({ schema: 'public', tables: ['notes'], sourceRows: new Map(), source: both, target: catalog('b', [table('notes', [id])]) });
  assert.ok(plan.warnings.includes('public.notes is not an Archon table; copied because it was named'));
});

test('every problem is collected, the first in the message and all in the details', () => {
  const source = table('pages', [id, column('embedding', 'vector(768)'), column('extra')]);
  const target = table('pages', [id, column('embedding', 'vector(1536)'), column('must', 'text', { notNull: true })], { ownedByUs: false, owner: 'postgres' });
  assert.throws(() => buildPlan({ schema: 'public', tables: ['pages'], sourceRows: new Map(), source: catalog('a', [source]), target: catalog('b', [target]) }), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    const problems = (error.details?.problems ?? []) as string[];
    assert.equal(problems.length, 4);
    assert.match(error.message, /\(and 3 more problems\)$/);
    assert.ok(problems.some((p) => p.includes('vector(768) on the source but vector(1536) on the target')));
    assert.ok(problems.some((p) => p.includes('pages.extra (text) exists on the source but not on the target')));
    assert.ok(problems.some((p) => p.includes('NOT NULL without a default')));
    assert.ok(problems.some((p) => p.includes('does not own')));
    return true;
  });
});

test('the same database on both sides is a configuration error, before anything else', () => {
  const tables = [table('settings', [id])];
  assert.throws(() => buildPlan({ schema: 'public', tables: ['settings'], sourceRows: new Map(), source: catalog('same', tables), target: catalog('same', tables) }), ConfigurationError);
});

test('secondary indexes are rebuilt, constraint-backed ones kept; text format and inheritance are said', () => {
  const source = table('tasks', [id, column('states', 'task_status[]', { binaryUnsafeReason: 'array of a user type' })], { inheritedBy: ['tasks_archive'] });
  const target = table('tasks', [id, column('states', 'task_status[]', { binaryUnsafeReason: 'array of a user type' })]);
  const plan = buildPlan({
    schema: 'public', tables: ['tasks'], sourceRows: new Map([['tasks', 3]]), source: catalog('a', [source]),
    target: catalog('b', [target], { indexes: [index('tasks_pkey', 'tasks', { backsConstraint: true }), index('tasks_states', 'tasks', { method: 'gin' })] }),
  });
  assert.deepEqual(plan.tables[0]?.indexes.map((i) => i.name), ['tasks_states']);
  assert.equal(plan.tables[0]?.format, 'text');
  assert.ok(plan.warnings.some((w) => w.includes('copied in text format')));
  assert.ok(plan.warnings.some((w) => w.includes('tables inheriting from it on the source (tasks_archive)')));
});
