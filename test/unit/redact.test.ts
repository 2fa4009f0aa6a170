// Passwords never leave the process: redaction of URIs, parameters and registered secrets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redact, registerSecret } from '../../src/pg/redact.js';
import { describeEndpoint } from '../../src/pg/connect.js';
import { ConfigurationError } from '../../src/errors.js';

test('removes the password from postgres URIs wherever they appear in a message', () => {
  const text = 'failed for postgresql://postgres.abc:S3cr%40t@aws-0-eu.pooler.supabase.com:6543/postgres and postgres://u:p@h/db';
  const out = redact(text);
  assert.ok(!out.includes('S3cr'));
  assert.ok(!out.includes(':p@'));
  assert.match(out, /postgresql:\/\/postgres\.abc:\*\*\*@aws-0-eu\.pooler\.supabase\.com:6543\/postgres/);
});

test('removes password= parameters and keyword forms', () => {
  assert.equal(redact('postgresql://h/db?user=a&password=hunter2&sslmode=require'), 'postgresql://h/db?user=a&password=***&sslmode=require');
  assert.equal(redact("host=h password='a b c' dbname=x"), 'host=h password=*** dbname=x');
});

test('removes a registered secret even outside a URI, also percent-encoded', () => {
  registerSecret('p@ss w0rd!');
  assert.equal(redact('auth failed: p@ss w0rd! / p%40ss%20w0rd!'), 'auth failed: *** / ***');
});

test('describes an endpoint as host:port/db without the password', () => {
  const endpoint = describeEndpoint('postgresql://postgres:verysecret@db.example.com:6543/postgres?sslmode=require');
  assert.equal(endpoint.label, 'db.example.com:6543/postgres');
  assert.equal(endpoint.sslMode, 'require');
  assert.ok(!JSON.stringify(endpoint).includes('verysecret'));
});

test('rejects a URI that is not a postgres URI as configuration, without echoing a password', () => {
  assert.throws(() => describeEndpoint('mysql://root:topsecret@h/db', 'source'), (error: unknown) => {
    assert.ok(error instanceof ConfigurationError);
    assert.ok(!error.message.includes('topsecret'));
    return true;
  });
  assert.throws(() => describeEndpoint('postgresql://u:p@h:99999/db'), ConfigurationError);
  assert.throws(() => describeEndpoint('postgresql://u:p@h/db?sslmode=sometimes'), /unknown sslmode/);
});

test('a password taken from PGPASSWORD is removed from messages too', async () => {
  const { describeEndpoint } = await import('../../src/pg/connect.js');
  const saved = process.env.PGPASSWORD;
  process.env.PGPASSWORD = 'from-the-environment-7';
  try {
    describeEndpoint('postgresql://someone@db.example:5432/archon');
    assert.equal(redact('FATAL: password from-the-environment-7 rejected'), 'FATAL: password *** rejected');
  } finally {
    if (saved === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = saved;
  }
});
