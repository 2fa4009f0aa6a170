// Load order from foreign keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderByForeignKeys } from '../../src/engine/order.js';
import { ARCHON_TABLES } from '../../src/engine/tables.js';

const ARCHON_EDGES = [
  ['archon_crawled_pages', 'archon_sources'], ['archon_crawled_pages', 'archon_page_metadata'],
  ['archon_code_examples', 'archon_sources'], ['archon_page_metadata', 'archon_sources'],
  ['archon_crawl_state', 'archon_sources'], ['archon_tasks', 'archon_projects'], ['archon_tasks', 'archon_tasks'],
  ['archon_task_history', 'archon_tasks'], ['archon_document_versions', 'archon_projects'],
  ['archon_document_versions', 'archon_tasks'], ['archon_project_sources', 'archon_projects'],
  ['archon_agent_work_order_steps', 'archon_agent_work_orders'], ['archon_sources', 'archon_projects'],
].map(([child, parent]) => ({ child: child!, parent: parent! }));

test('puts every parent before its children for the Archon graph, from any input order', () => {
  for (const input of [[...ARCHON_TABLES], [...ARCHON_TABLES].reverse(), [...ARCHON_TABLES].sort()]) {
    const { order, cycle } = orderByForeignKeys(input, ARCHON_EDGES);
    assert.deepEqual(cycle, []);
    assert.equal(order.length, input.length);
    for (const { child, parent } of ARCHON_EDGES) {
      if (child !== parent) assert.ok(order.indexOf(parent) < order.indexOf(child), `${parent} must precede ${child}`);
    }
  }
});

test('keeps the given order where foreign keys do not decide, so plans are deterministic', () => {
  const { order } = orderByForeignKeys(['c', 'b', 'a'], []);
  assert.deepEqual(order, ['c', 'b', 'a']);
  assert.deepEqual(orderByForeignKeys(['child', 'parent'], [{ child: 'child', parent: 'parent' }]).order, ['parent', 'child']);
});

test('ignores self-references and edges to tables outside the selection', () => {
  const { order, cycle } = orderByForeignKeys(['tasks', 'history'], [
    { child: 'tasks', parent: 'tasks' }, { child: 'history', parent: 'tasks' }, { child: 'tasks', parent: 'sprints' },
  ]);
  assert.deepEqual(order, ['tasks', 'history']);
  assert.deepEqual(cycle, []);
});

test('reports a cycle through two tables instead of looping', () => {
  const { order, cycle } = orderByForeignKeys(['a', 'b', 'c'], [{ child: 'a', parent: 'b' }, { child: 'b', parent: 'a' }]);
  assert.deepEqual(cycle, ['a', 'b']);
  assert.deepEqual(order, ['c', 'a', 'b']);
});
