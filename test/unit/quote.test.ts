// Statements sent without parameters carry values as literals: text arrays, and DO blocks whose body holds data.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dollarQuotedBlock, quoteTextArray } from '../../src/pg/quote.js';

test('a DO block takes a dollar-quote tag its body does not contain', () => {
  assert.equal(dollarQuotedBlock('BEGIN NULL; END'), 'DO $archon_sync$ BEGIN NULL; END $archon_sync$');
  // A sample key of the target's edits, say, that happens to hold the usual tag (and the next one).
  const body = `BEGIN RAISE NOTICE '%', 'key $archon_sync$ and $archon_sync_1$'; END`;
  const block = dollarQuotedBlock(body);
  assert.equal(block, `DO $archon_sync_2$ ${body} $archon_sync_2$`);
});

test('a text array literal quotes each element', () => {
  assert.equal(quoteTextArray(['a', "it's"]), `ARRAY['a', 'it''s']::pg_catalog.text[]`);
  assert.equal(quoteTextArray([]), 'ARRAY[]::pg_catalog.text[]');
});
