// Counting statements from a server log: one per simple query or Execute, multi-line texts kept whole, per application.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byConnectionName, parseStatementLog, statementKind, statementsByApplication, trafficOf } from '../support/statement-log.js';

// As PostgreSQL 15 writes it with STATEMENT_LOG_SETTINGS (continuation lines start with a tab).
const LOG = [
  '2026-11-26 09:16:08.898 UTC [8953] <[unknown]> LOG:  connection received: host=127.0.0.1 port=57776',
  '2026-11-26 09:16:08.935 UTC [8953] <[unknown]> LOG:  connection authorized: user=archon_owner database=dst_1 application_name=archon-sync',
  '2026-11-26 09:16:08.953 UTC [8953] <archon-sync> LOG:  statement: BEGIN ISOLATION LEVEL READ COMMITTED',
  '2026-11-26 09:16:08.957 UTC [8953] <archon-sync> LOG:  statement: SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 10000',
  '2026-11-26 09:16:08.967 UTC [8953] <archon-sync> LOG:  execute <unnamed>: SELECT pg_try_advisory_xact_lock($1, $2) AS locked',
  '2026-11-26 09:16:09.013 UTC [8959] <[unknown]> LOG:  connection authorized: user=archon_owner database=dst_1 application_name=archon-sync-history SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)',
  '2026-11-26 09:16:09.052 UTC [8959] <archon-sync-history> LOG:  execute <unnamed>: INSERT INTO archon_sync_history',
  '\t         (sync_id, direction)',
  '\t       VALUES ($1, $2)',
  '2026-11-26 09:16:09.100 UTC [8953] <archon-sync> LOG:  statement: COPY "public"."archon_sources" ("source_id", "title") FROM STDIN (FORMAT binary, FREEZE)',
  '2026-11-26 09:16:09.200 UTC [8953] <archon-sync> LOG:  statement: DROP INDEX "public"."idx_a"',
  '2026-11-26 09:16:09.201 UTC [8953] <archon-sync> LOG:  statement: DROP INDEX "public"."idx_b"',
  '2026-11-26 09:16:09.300 UTC [9001] <archon-sync> LOG:  execute <unnamed>/C_1: SELECT key FROM t ORDER BY key',
  '2026-11-26 09:16:09.310 UTC [9001] <archon-sync> LOG:  execute fetch from <unnamed>/C_1: SELECT key FROM t ORDER BY key',
  '2026-11-26 09:16:09.400 UTC [8953] <archon-sync> ERROR:  relation "nope" does not exist at character 15',
  '2026-11-26 09:16:09.400 UTC [8953] <archon-sync> STATEMENT:  SELECT 1 FROM nope',
  '2026-11-26 09:16:09.490 UTC [9100] <[unknown]> LOG:  connection authorized: user=postgres database=dst_1',
  '2026-11-26 09:16:09.500 UTC [9100] <[unknown]> LOG:  statement: SELECT 1',
  '',
].join('\n');

test('counts one statement per simple query or Execute (cursor fetches too), and connections apart; no application_name is ""', () => {
  const excerpt = parseStatementLog(LOG);
  assert.deepEqual(statementsByApplication(excerpt), { 'archon-sync': 8, 'archon-sync-history': 1, '': 1 });
  assert.deepEqual(excerpt.connections, [
    { pid: 8953, application: 'archon-sync' }, { pid: 8959, application: 'archon-sync-history' }, { pid: 9100, application: '' },
  ]);
  const history = excerpt.statements.find((s) => s.application === 'archon-sync-history');
  assert.equal(history?.protocol, 'extended');
  assert.equal(history?.text, 'INSERT INTO archon_sync_history\n         (sync_id, direction)\n       VALUES ($1, $2)');
});

test('groups statements by kind, naming no object', () => {
  const traffic = trafficOf(parseStatementLog(LOG), 'archon-sync');
  assert.equal(traffic.statements, 8);
  assert.equal(traffic.connections, 1);
  assert.deepEqual(traffic.kinds[0], ['DROP INDEX …', 2]);
  assert.equal(statementKind('COPY (SELECT "a" FROM "public"."t") TO STDOUT (FORMAT binary)'), 'COPY … TO STDOUT');
  assert.equal(statementKind('CREATE UNIQUE INDEX idx_x ON public.t USING btree (a)'), 'CREATE UNIQUE INDEX …');
  assert.equal(statementKind(`SELECT setval('"public"."s"', 42)`), "SELECT setval('…', N)");
  // Batches group by what they do, not by how many statements or which objects.
  for (const batch of [
    'SAVEPOINT archon_sync_index; CREATE INDEX idx_a ON t (a); RELEASE SAVEPOINT archon_sync_index',
    'SAVEPOINT archon_sync_index; CREATE INDEX idx_b ON u (b); CREATE INDEX idx_c ON u (c);\n RELEASE SAVEPOINT archon_sync_index;',
  ]) assert.equal(statementKind(batch), '[batch] SAVEPOINT archon_sync_index; CREATE INDEX …; RELEASE SAVEPOINT archon_sync_index');
  assert.equal(statementKind("DO $body$ BEGIN PERFORM 1; PERFORM 'a;b'; END $body$; SELECT 1"), '[batch] DO $…$; SELECT N');
});

test('names a statement by the application_name its connection started with, where the excerpt holds that start', () => {
  const renamed = [
    LOG,
    "2026-11-26 09:16:09.600 UTC [8953] <archon-sync: building index 0> LOG:  statement: CREATE INDEX idx_a ON t (a)",
    "2026-11-26 09:16:09.700 UTC [7000] <archon-sync> LOG:  statement: SELECT 2",
    '',
  ].join('\n');
  assert.deepEqual(statementsByApplication(parseStatementLog(renamed))['archon-sync: building index 0'], 1);
  // 8953 connected as archon-sync; 7000 connected before the excerpt, so it keeps the name its lines carry.
  assert.deepEqual(statementsByApplication(byConnectionName(parseStatementLog(renamed))), { 'archon-sync': 10, 'archon-sync-history': 1, '': 1 });
});
