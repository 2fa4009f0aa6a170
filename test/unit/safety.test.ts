// The pure parts of issue 25: what the guard counts and refuses, the target-edit summary, and the options that set them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIBRARY_WORDING, wordPhrase } from '../../src/advice.js';
import { ConfigurationError } from '../../src/errors.js';
import { deletionGuard, guardDeletes, guardedTables, guardPhrase } from '../../src/engine/delete-guard.js';
import { resolveOptions } from '../../src/engine/options.js';
import { summarizeTargetEdits } from '../../src/engine/target-edits.js';
import { cliWording } from '../../src/cli/wording.js';

const uris = { source: 'postgresql://u@localhost/a', target: 'postgresql://u@localhost/b' };

test('a compared table counts the keys that vanish; a full copy without comparing counts its net loss, never below 0', () => {
  assert.equal(guardDeletes({ compared: true, deletes: 7, sourceRows: 100, targetRows: 100 }), 7);
  assert.equal(guardDeletes({ compared: false, deletes: 0, sourceRows: 10, targetRows: 10_000 }), 9_990);
  assert.equal(guardDeletes({ compared: false, deletes: 0, sourceRows: 500, targetRows: 10 }), 0);
});

test('the guard refuses more than the share and every emptying, never an empty table, nothing at 1', () => {
  const tables = [
    { table: 'archon_crawled_pages', guardDeletes: 10_000, targetRows: 10_000 },
    { table: 'archon_code_examples', guardDeletes: 50, targetRows: 100 },
    { table: 'archon_sources', guardDeletes: 51, targetRows: 100 },
    { table: 'archon_settings', guardDeletes: 0, targetRows: 0 },
  ];
  assert.deepEqual(deletionGuard(tables, 0.5).refused.map((t) => t.table), ['archon_crawled_pages', 'archon_sources']);
  assert.deepEqual(deletionGuard(tables, 1).refused, []);
  const line = guardPhrase(deletionGuard(tables, 0.5), 'the target local');
  assert.equal(wordPhrase(line, cliWording()),
    'refused: this run would delete 10,000 of 10,000 rows of archon_crawled_pages (100 %), 51 of 100 of archon_sources (51 %) in the target local, more than the 50 % --max-delete allows; nothing was changed — check the direction and the source, or raise --max-delete to allow it');
  assert.match(wordPhrase(line, LIBRARY_WORDING), /raise maxDeleteShare to allow it$/);
});

test('a refusal over many tables names the three largest and sums the rest, so it stays one line', () => {
  const tables = ['archon_settings', 'archon_crawled_pages', 'archon_sources', 'archon_tasks', 'archon_code_examples', 'archon_projects']
    .map((table, i) => ({ table, guardDeletes: [4, 500, 3, 8, 60, 2][i] ?? 0, targetRows: [4, 500, 3, 8, 60, 2][i] ?? 0 }));
  assert.equal(guardedTables(deletionGuard(tables, 0.5).refused),
    '500 of 500 rows of archon_crawled_pages (100 %), 60 of 60 of archon_code_examples (100 %), 8 of 8 of archon_tasks (100 %) and 9 rows of 3 more tables');
});

test('target edits are summed over tables; tables with rows and no watermark are untold', () => {
  const base = { mode: 'incremental' as const, reason: undefined, inserts: 0, updates: 0, deletes: 0, sourceRows: 1, rowsToCopy: 0, indexesToRebuild: 0, guardDeletes: 0 };
  const summary = summarizeTargetEdits([
    { ...base, table: 'archon_settings', targetRows: 5, targetEdits: { inserted: 1, updated: 2, deleted: 0, keys: ['id=1', 'id=2', 'id=3'] } },
    { ...base, table: 'archon_sources', targetRows: 5, targetEdits: { inserted: 0, updated: 0, deleted: 0, keys: [] } },
    { ...base, table: 'archon_tasks', targetRows: 3, targetEdits: undefined },
    { ...base, table: 'archon_prompts', targetRows: 0, targetEdits: undefined },
  ], 'refuse');
  assert.deepEqual([summary.inserted, summary.updated, summary.deleted], [1, 2, 0]);
  assert.deepEqual(summary.tables.map((t) => t.table), ['archon_settings']);
  assert.deepEqual(summary.untold, ['archon_tasks']);
});

test('the options: maxDeleteShare is a share, targetChanges defaults to ask with a confirm hook and refuse without, table names are exact', () => {
  assert.equal(resolveOptions(uris).maxDeleteShare, 0.5);
  assert.equal(resolveOptions(uris).targetChanges, 'refuse');
  assert.equal(resolveOptions({ ...uris, confirm: () => true }).targetChanges, 'ask');
  assert.throws(() => resolveOptions({ ...uris, maxDeleteShare: 50 }), (e: unknown) => e instanceof ConfigurationError && /maxDeleteShare must be a share from 0 to 1/.test(e.message));
  assert.throws(() => resolveOptions({ ...uris, targetChanges: 'maybe' as 'refuse' }), ConfigurationError);
  assert.throws(() => resolveOptions({ ...uris, tables: ['public.archon_sources'] }), /"public\.archon_sources" is schema-qualified/);
  assert.throws(() => resolveOptions({ ...uris, tables: ['ARCHON_SOURCES'] }), /"ARCHON_SOURCES" is mis-cased; the Archon table is archon_sources/);
  assert.throws(() => resolveOptions({ ...uris, tables: [] }), /no tables selected/);
});
