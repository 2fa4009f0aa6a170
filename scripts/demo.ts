// The demo: two local clusters with Archon-like data, synced by the real archon-sync CLI, as a newcomer would see it.

import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import pg from 'pg';
import { generateArchonData } from '../schema/generate.js';
import { openPersistentCluster, OWNER_ROLE, TEMPLATE_DATABASE, type Cluster } from '../test/support/cluster.js';

const DEMO_DIR = resolve('.archon-sync/demo');
const DATABASE = 'archon';
const SCALE = Number(process.env.ARCHON_SYNC_DEMO_SCALE ?? 0.05);

async function ensureDatabase(cluster: Cluster): Promise<boolean> {
  const exists = await cluster.admin('postgres', async (client) =>
    (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])).rowCount === 1);
  if (!exists) {
    await cluster.admin('postgres', (client) => client.query(`CREATE DATABASE ${DATABASE} TEMPLATE ${TEMPLATE_DATABASE} OWNER ${OWNER_ROLE}`));
  }
  return !exists;
}

async function fillLocal(cluster: Cluster): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.uri(DATABASE) });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM archon_crawled_pages');
    if ((rows[0]?.n ?? 0) > 0) {
      console.log(`local database already holds ${rows[0]?.n} crawled pages (kept from an earlier demo run)`);
      return;
    }
    console.log(`filling the local database with Archon-like data (scale ${SCALE})…`);
    const counts = await generateArchonData(client, { seed: 2026, scale: SCALE });
    console.log(`  ${Object.values(counts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(counts).length} tables`);
  } finally {
    await client.end();
  }
}

function cli(args: string[], env: NodeJS.ProcessEnv): number {
  const result = spawnSync(process.execPath, ['--', resolve('dist/src/cli/archon-sync.js'), ...args], { stdio: 'inherit', env });
  return result.status ?? 1;
}

async function main(): Promise<number> {
  console.log(`starting two PostgreSQL 15 clusters under ${DEMO_DIR} (kept for the next run)…`);
  const local = await openPersistentCluster('local', resolve(DEMO_DIR, 'local'));
  const remote = await openPersistentCluster('remote', resolve(DEMO_DIR, 'remote'));
  try {
    await ensureDatabase(local);
    await ensureDatabase(remote);
    await fillLocal(local);
    const env = { ...process.env, LOCAL_DATABASE_URI: local.uri(DATABASE), REMOTE_DATABASE_URI: remote.uri(DATABASE) };
    console.log('\n$ archon-sync --direction=local-to-remote --skip-confirm\n');
    const code = cli(['--direction=local-to-remote', '--skip-confirm', '--log-format=pretty'], env);
    if (code !== 0) return code;
    console.log('\n$ archon-sync history --direction=local-to-remote --limit 3\n');
    return cli(['history', '--direction=local-to-remote', '--limit', '3', '--log-format=pretty'], env);
  } finally {
    local.stop();
    remote.stop();
  }
}

process.exitCode = await main();
