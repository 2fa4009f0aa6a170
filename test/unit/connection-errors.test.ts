// Socket errors that cannot be produced on loopback, mapped to the one line a person reads.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionErrorFor } from '../../src/pg/connection-errors.js';
import type { Endpoint } from '../../src/pg/uri.js';

const attempt = { timeout: { ms: 10_000, from: 'option' as const }, attemptedTls: true };

const supabaseDirect: Endpoint = {
  host: 'db.abcdefghijklmnop.supabase.co', port: 5432, database: 'postgres', user: 'postgres',
  label: 'db.abcdefghijklmnop.supabase.co:5432/postgres', sslMode: 'require', socket: false,
};

function socketError(code: string, address: string): Error {
  return Object.assign(new Error(`connect ${code} ${address}:5432 - Local (:::0)`), { code, address, port: 5432 });
}

test('ENETUNREACH on an IPv6 address says the direct Supabase host is IPv6-only and to use the session pooler', () => {
  const error = connectionErrorFor(socketError('ENETUNREACH', '2600:1f18:2e13:9d00::1'), supabaseDirect, 'target', attempt);
  assert.match(error.message, /^cannot connect to target db\.abcdefghijklmnop\.supabase\.co:5432\/postgres: no route to IPv6 address 2600:1f18:2e13:9d00::1/);
  assert.match(error.message, /IPv6-only, use the session pooler URI/);
  assert.equal(error.code, 'CONNECTION');
  assert.ok(!error.message.includes('\n'));
});

test('ENETUNREACH on an IPv4 address says the network is unreachable, with no Supabase advice', () => {
  const error = connectionErrorFor(socketError('ENETUNREACH', '10.1.2.3'), supabaseDirect, 'source', attempt);
  assert.match(error.message, /network unreachable/);
  assert.doesNotMatch(error.message, /IPv6|pooler/);
});
