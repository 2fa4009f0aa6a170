// What a column's type means, spelled out: equal on two sides exactly when the same value means the same there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeType, withoutOwnSchema, type TypeRef, type TypeRow } from '../../src/pg/column-types.js';

const ref = (oid: number, name: string, schema = 'public'): TypeRef => ({ oid, name, schema });
const row = (oid: number, kind: string, more: Partial<TypeRow> = {}): TypeRow =>
  ({ oid, kind, labels: null, base: null, element: null, fields: null, subtype: null, ...more });

const types = new Map<number, TypeRow>([
  [1, row(1, 'e', { labels: ['todo', "it's done"] })],
  [2, row(2, 'd', { base: ref(23, 'integer', 'pg_catalog') })],
  [3, row(3, 'c', { fields: [{ field: 'status', ...ref(1, 'task_status') }, { field: 'score', ...ref(2, 'score') }] })],
  [4, row(4, 'b', { element: ref(1, 'task_status') })],
  [5, row(5, 'b', { element: ref(25, 'text', 'pg_catalog') })],
  [6, row(6, 'r', { subtype: ref(2, 'score') })],
  [7, row(7, 'd', { base: ref(7, 'loop') })],
]);

test('spells out enum labels in order, a domain\'s base, composite fields and array elements, recursively', () => {
  assert.equal(describeType(ref(1, 'task_status'), types), `task_status AS ENUM ('todo', 'it''s done')`);
  assert.equal(describeType(ref(2, 'score'), types), 'score AS DOMAIN OVER integer');
  assert.equal(describeType(ref(3, 'card'), types), `card AS (status task_status AS ENUM ('todo', 'it''s done'), score score AS DOMAIN OVER integer)`);
  assert.equal(describeType(ref(4, 'task_status[]'), types), `task_status[] OF task_status AS ENUM ('todo', 'it''s done')`);
  assert.equal(describeType(ref(6, 'score_span'), types), 'score_span AS RANGE OF score AS DOMAIN OVER integer');
});

test('a plain type, or an array of one, is its name alone; a type\'s own schema is left out', () => {
  assert.equal(describeType(ref(25, 'text', 'pg_catalog'), types), 'text');
  assert.equal(describeType(ref(5, 'text[]', 'pg_catalog'), types), 'text[]');
  assert.equal(describeType(ref(99, 'extensions.vector(3)', 'extensions'), types), 'vector(3)');
  assert.equal(withoutOwnSchema('"My Schema".thing', 'My Schema'), 'thing');
});

test('a catalog that loops (read half-way through a change) ends in a name, not a stack overflow', () => {
  assert.match(describeType(ref(7, 'loop'), types), /^loop AS DOMAIN OVER loop AS DOMAIN OVER .*loop$/);
});
