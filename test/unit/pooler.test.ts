// What the plan says a connection goes through, from the dialled endpoint and the port the server reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerInfo } from '../../src/pg/catalog.js';
import { describeEndpoint } from '../../src/pg/connect.js';
import { guessPooler } from '../../src/engine/read-plan.js';

const server = (port: number | null) => ({ port } as ServerInfo);

test("recognises Supabase's transaction pooler (6543) and session pooler (5432) by host name", () => {
  const host = 'postgres.abcd:pw@aws-0-eu-central-1.pooler.supabase.com';
  assert.equal(guessPooler(describeEndpoint(`postgresql://${host}:6543/postgres`), server(5432)), 'transaction pooler');
  assert.equal(guessPooler(describeEndpoint(`postgresql://${host}:5432/postgres`), server(5432)), 'session pooler');
});

test('calls a connection direct when the server listens on the port we dialled, a proxy when it does not', () => {
  assert.equal(guessPooler(describeEndpoint('postgresql://u:p@db.example.com:5432/postgres'), server(5432)), 'direct');
  assert.equal(guessPooler(describeEndpoint('postgresql://u:p@127.0.0.1:6432/postgres'), server(5432)), 'pooler or proxy');
  assert.equal(guessPooler(describeEndpoint('postgresql://u:p@127.0.0.1:6543/postgres'), server(5432)), 'transaction pooler');
  assert.equal(guessPooler(describeEndpoint('postgresql://u:p@127.0.0.1:6543/postgres'), server(6543)), 'direct');
});
