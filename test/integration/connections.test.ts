// Connections behave like psql's: sslmode with libpq's meaning, CA files, and one actionable line per failure.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConnectionError, plan, sync, ARCHON_TABLES } from '../../src/index.js';
import { OWNER_PASSWORD } from '../support/cluster.js';
import { filledDatabase, fingerprintDatabase } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { startSilentHost, type SilentHost } from '../support/silent-host.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';
import { UNGUARDED } from '../support/unguarded.js';

let servers: TestServers;
let certificates: TestCertificates;

before(async () => {
  certificates = makeTestCertificates();
  servers = await testServers({ target: certificates.clusterOptions(true) });
  // The tests' own pg clients need libpq's meaning of require too.
  servers.target.ownerParams = 'sslmode=require&uselibpqcompat=true';
});
after(async () => { await servers?.close(); });

function tlsTargetUri(database: string, params: string, host = '127.0.0.1'): string {
  return servers.target.ownerUri(database, params).replace('@127.0.0.1:', `@${host}:`);
}

async function expectConnectionError(promise: Promise<unknown>, pattern: RegExp, withinMs: number): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(OWNER_PASSWORD), 'password in message');
    assert.ok(!error.message.includes('\n'), 'message is more than one line');
    return true;
  });
  assert.ok(Date.now() - started < withinMs, `took ${Date.now() - started} ms, promised under ${withinMs}`);
}

describe('TLS', () => {
  test('sslmode=require encrypts without verifying, like libpq, so a private CA needs no file', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 1), filledDatabase(servers.target, undefined)]);
    const result = await plan({ ...UNGUARDED, source: servers.source.ownerUri(source), target: tlsTargetUri(target, 'sslmode=require') });
    assert.equal(result.target.ssl, true);
    assert.equal(result.source.ssl, false);
  });

  test('verify-full without sslrootcert fails with exit-2 error saying to pass sslrootcert', async () => {
    const target = await servers.target.createDatabase('tls');
    await expectConnectionError(plan({ ...UNGUARDED, source: servers.source.ownerUri(await servers.source.createDatabase('s')), target: tlsTargetUri(target, 'sslmode=verify-full', 'localhost') }),
      /not trusted; pass the CA that signed it with sslrootcert=/, 10_000);
  });

  test('verify-full with the CA connects and a full sync is exact', async () => {
    const [source, target] = await Promise.all([filledDatabase(servers.source, 2), filledDatabase(servers.target, 3)]);
    await sync({ ...UNGUARDED, source: servers.source.ownerUri(source), target: tlsTargetUri(target, `sslmode=verify-full&sslrootcert=${encodeURIComponent(certificates.caFile)}`, 'localhost') });
    const [a, b] = await Promise.all([fingerprintDatabase(servers.source, source, ARCHON_TABLES), fingerprintDatabase(servers.target, target, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });

  test('verify-full checks the host name: a certificate for localhost does not match another name', async () => {
    const target = await servers.target.createDatabase('tls');
    // 127.0.0.2 reaches the same loopback server but is not a name on the certificate.
    await expectConnectionError(plan({ ...UNGUARDED, source: servers.source.ownerUri(await servers.source.createDatabase('s')), target: tlsTargetUri(target, `sslmode=verify-full&sslrootcert=${encodeURIComponent(certificates.caFile)}`, '127.0.0.2') }),
      /does not match host "127\.0\.0\.2"/, 10_000);
  });

  test('sslmode=require with sslrootcert verifies the chain, as libpq does', async () => {
    const target = await servers.target.createDatabase('tls');
    const source = await servers.source.createDatabase('s');
    const result = await plan({ ...UNGUARDED, source: servers.source.ownerUri(source), target: tlsTargetUri(target, `sslmode=require&sslrootcert=${encodeURIComponent(certificates.caFile)}`, '127.0.0.2') });
    assert.equal(result.target.ssl, true);
    const wrongCa = makeTestCertificates().caFile;
    await expectConnectionError(plan({ ...UNGUARDED, source: servers.source.ownerUri(source), target: tlsTargetUri(target, `sslmode=require&sslrootcert=${encodeURIComponent(wrongCa)}`) }),
      /not trusted/, 10_000);
  });

  test('sslmode=disable against a server that requires TLS says to use sslmode=require', async () => {
    const target = await servers.target.createDatabase('tls');
    await expectConnectionError(plan({ ...UNGUARDED, source: servers.source.ownerUri(await servers.source.createDatabase('s')), target: tlsTargetUri(target, 'sslmode=disable') }),
      /the server requires TLS; use sslmode=require/, 10_000);
  });

  test('sslmode=prefer (the default) uses TLS when the server offers it and plain TCP when it does not', async () => {
    const [source, target] = await Promise.all([servers.source.createDatabase('s'), servers.target.createDatabase('t')]);
    const result = await plan({ ...UNGUARDED, source: servers.source.ownerUri(source, ''), target: tlsTargetUri(target, '') });
    assert.equal(result.target.ssl, true);
    assert.equal(result.source.ssl, false);
  });
});

function withoutPassword(uri: string): string {
  const stripped = uri.replace(`:${encodeURIComponent(OWNER_PASSWORD)}@`, '@');
  assert.notEqual(stripped, uri, 'the URI had no password to remove');
  return stripped;
}

/** Runs `work` with PGPASSFILE pointing at a file holding `lines` (mode 0600), or at no file; PGPASSWORD unset. */
async function withPasswordFile<T>(lines: string[] | undefined, work: () => Promise<T>, mode = 0o600): Promise<T> {
  const saved = { PGPASSFILE: process.env.PGPASSFILE, PGPASSWORD: process.env.PGPASSWORD };
  const file = join(mkdtempSync(join(tmpdir(), 'archon-sync-pgpass-')), 'pgpass');
  if (lines) writeFileSync(file, `${lines.join('\n')}\n`, { mode });
  process.env.PGPASSFILE = file;
  delete process.env.PGPASSWORD;
  try {
    return await work();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('password file', () => {
  test('the password comes from ~/.pgpass (PGPASSFILE) when the URI has none, as with psql; a full sync works', async () => {
    const [sourceDb, targetDb] = await Promise.all([filledDatabase(servers.source, 4), filledDatabase(servers.target, undefined)]);
    const sourceUri = withoutPassword(servers.source.ownerUri(sourceDb));
    const targetUri = withoutPassword(tlsTargetUri(targetDb, 'sslmode=require'));
    const escaped = OWNER_PASSWORD.replace(/[:\\]/g, '\\$&');
    const lines = [
      '# comments and lines for other servers or users are skipped',
      `127.0.0.1:${new URL(sourceUri).port}:*:someone_else:wrong`,
      `127.0.0.1:${new URL(sourceUri).port}:*:archon_owner:${escaped}`,
      `127.0.0.1:${new URL(targetUri).port}:${targetDb}:archon_owner:${escaped}`,
    ];
    await withPasswordFile(lines, () => sync({ ...UNGUARDED, source: sourceUri, target: targetUri }));
    const [a, b] = await Promise.all([fingerprintDatabase(servers.source, sourceDb, ARCHON_TABLES), fingerprintDatabase(servers.target, targetDb, ARCHON_TABLES)]);
    assert.deepEqual(b, a);
  });

  test('a password file that others can read is ignored, as libpq does', async () => {
    const line = `*:*:*:archon_owner:${OWNER_PASSWORD.replace(/[:\\]/g, '\\$&')}`;
    await withPasswordFile([line], async () => {
      await expectConnectionError(plan({ ...UNGUARDED, source: servers.source.ownerUri('postgres'), target: withoutPassword(servers.source.ownerUri('postgres')) }),
        /none was given/, 5_000);
    }, 0o644);
  });
});

describe('connection failures', () => {
  let silent: SilentHost;
  let silentPort = 0;
  before(async () => {
    silent = await startSilentHost();
    silentPort = silent.port;
  });
  after(() => { silent.close(); });

  const source = () => servers.source.ownerUri('postgres');

  test('a refused port says connection refused, at once', async () => {
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: `postgresql://archon_owner:${OWNER_PASSWORD}@127.0.0.1:1/x` }), /connection refused/, 5_000);
  });

  test('a server that never answers times out within the connect timeout', async () => {
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: `postgresql://archon_owner:${OWNER_PASSWORD}@127.0.0.1:${silentPort}/x?sslmode=disable&connect_timeout=2` }),
      /no answer within 2 s; .*\(connect_timeout in the URI changes the limit\)$/, 6_000);
    // The library's own option: the advice names it (a front end names its flag for it instead).
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: `postgresql://archon_owner:${OWNER_PASSWORD}@127.0.0.1:${silentPort}/x?sslmode=disable`, connectTimeoutMs: 1500 }),
      /no answer within [12] s; .*\(connectTimeoutMs changes the limit\)$/, 5_000);
  });

  test('a wrong password says authentication failed and does not echo it', async () => {
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: servers.source.ownerUri('postgres').replace(encodeURIComponent(OWNER_PASSWORD), 'Not-the-pw-77') }),
      /password authentication failed for user "archon_owner"/, 5_000);
  });

  test('an unknown database is named', async () => {
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: servers.source.ownerUri('no_such_db') }), /database "no_such_db" does not exist/, 5_000);
  });

  test('no password in the URI, PGPASSWORD or the password file says where to put one', async () => {
    await withPasswordFile(undefined, async () => {
      await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: withoutPassword(servers.source.ownerUri('postgres')) }),
        /asks for a password for user "archon_owner" and none was given; put it in the URI, in PGPASSWORD or in ~\/\.pgpass/, 5_000);
    });
  });

  test('an unknown host name says it cannot be resolved', async () => {
    await expectConnectionError(plan({ ...UNGUARDED, source: source(), target: `postgresql://archon_owner:${OWNER_PASSWORD}@no-such-host.invalid:5432/x` }), /cannot be resolved/, 15_000);
  });
});
