// A failure's cause comes from where it happened (the error's type, its SQLSTATE and raising file, its socket code,
// the connection's own end), never from its words; the advice follows the cause.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { asSyncError } from '../../src/engine/failure.js';
import { ConnectionLost } from '../../src/pg/connect.js';
import { causeOfServerError } from '../../src/pg/server-errors.js';

function serverError(code: string, file: string, message = 'server said so'): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code, file });
}

test('SQLSTATEs map to causes in one place, with the raising file where one code covers two causes', () => {
  assert.equal(causeOfServerError(serverError('55P03', 'lmgr.c')), 'lock-timeout');
  assert.equal(causeOfServerError(serverError('53100', 'md.c')), 'out-of-disk');
  assert.equal(causeOfServerError(serverError('53100', 'dsm_impl.c')), 'shared-memory');
  assert.equal(causeOfServerError(serverError('54000', 'ivfkmeans.c')), 'out-of-memory');
  assert.equal(causeOfServerError(serverError('54000', 'nbtutils.c')), undefined);
  assert.equal(causeOfServerError(serverError('42501', 'aclchk.c')), 'permission');
  assert.equal(causeOfServerError(new Error('53100')), undefined);
});

test('a lost connection is known from the connection or the socket, not from a message that says so', () => {
  const step = { step: 'copy', table: 'public.archon_crawled_pages' };
  const socket = asSyncError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), step);
  assert.equal(socket.failure, 'lost-connection');
  assert.match(socket.message, /connection to a server was lost; nothing was committed on the target, retry; the target was rolled back$/);
  assert.equal(asSyncError(new ConnectionLost('target', undefined), step).failure, 'lost-connection');
  assert.equal(asSyncError(new Error('Connection terminated unexpectedly'), { ...step, lostSide: 'source' }).failure, 'lost-connection');
  // Words alone say nothing: a message about a lost connection, from a connection that did not end, is just a message.
  const worded = asSyncError(new Error('Connection terminated: connection lost'), step);
  assert.equal(worded.failure, undefined);
  assert.doesNotMatch(worded.message, /retry/);
});

test('advice follows the cause and names the option to change as data', () => {
  const lock = asSyncError(serverError('55P03', 'lmgr.c', 'canceling statement due to lock timeout'), { step: 'copy' });
  assert.deepEqual(lock.advice, [{ kind: 'option', option: 'lockTimeoutMs' }]);
  assert.match(lock.message, /retry when it is idle or raise lockTimeoutMs; the target was rolled back$/);
  const ivfflat = asSyncError(serverError('54000', 'ivfkmeans.c', 'memory required is 41 MB, maintenance_work_mem is 1 MB'), { step: 'index rebuild' });
  assert.match(ivfflat.message, /memory required is 41 MB, maintenance_work_mem is 1 MB; raise maintenanceWorkMem above the memory required; the target was rolled back$/);
  const disk = asSyncError(serverError('53100', 'md.c', 'could not extend file'), { step: 'copy' });
  assert.deepEqual([disk.failure, disk.advice], ['out-of-disk', []]);
});
