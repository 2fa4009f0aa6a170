// The test proxy's rewriting starts only after the client's startup and authentication messages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartupPhase } from '../support/tamper-proxy.js';

function untyped(body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

function typed(type: string, body: string): Buffer {
  return Buffer.concat([Buffer.from(type), untyped(Buffer.from(body))]);
}

// An SSLRequest, the startup message, a SCRAM exchange whose nonce ends in the first letters of a pattern, then a query.
const sslRequest = untyped(Buffer.from([0x04, 0xd2, 0x16, 0x2f]));
const startup = untyped(Buffer.from('\0\x03\0\0user\0archon_owner\0database\0db\0\0', 'latin1'));
const sasl = Buffer.concat([typed('p', 'SCRAM-SHA-256\0n,,n=,r=abcdefar'), typed('p', 'c=biws,r=abcdefar,p=proof')]);
const query = typed('Q', 'COPY archon_prompts FROM STDIN\0');
const stream = Buffer.concat([sslRequest, startup, sasl, query]);
const boundary = sslRequest.length + startup.length + sasl.length;

test('the startup phase ends where the first message that is not a password message begins', () => {
  const phase = new StartupPhase();
  assert.equal(phase.consume(stream), boundary);
  assert.ok(phase.done);
});

test('the boundary is the same whatever pieces the bytes arrive in', () => {
  for (const size of [1, 3, 7, 64]) {
    const phase = new StartupPhase();
    let passed = 0;
    for (let at = 0; at < stream.length && !phase.done; at += size) passed += phase.consume(stream.subarray(at, at + size));
    assert.equal(passed, boundary, `pieces of ${size}`);
  }
});

test('without an SSLRequest the startup message comes first', () => {
  const phase = new StartupPhase();
  assert.equal(phase.consume(Buffer.concat([startup, sasl, query])), startup.length + sasl.length);
});
