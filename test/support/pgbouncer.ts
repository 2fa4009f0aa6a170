// PgBouncer in front of a test cluster, in transaction mode like Supabase's pooler on port 6543.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownToPostgres, freePort, OWNER_PASSWORD, OWNER_ROLE, spawnAsPostgres, type Cluster } from './cluster.js';

export interface PgBouncer {
  port: number;
  uri(database: string): string;
  /** Kills PgBouncer at once (SIGKILL), dropping every client and server connection, as a crashed pooler would. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`PgBouncer did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `poolSize` 1 makes every client share one server connection: what one client leaves on it, the next one sees.
 * `settings`: more [pgbouncer] lines (e.g. a short query_wait_timeout).
 */
export async function startPgBouncer(cluster: Cluster, poolMode: 'transaction' | 'session' = 'transaction', poolSize = 10,
  settings: Record<string, string | number> = {}): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), `archon-sync-pg-${process.pid}-bouncer-`));
  chownToPostgres(dir);
  const port = await freePort();
  writeFileSync(join(dir, 'userlist.txt'), `"${OWNER_ROLE}" "${OWNER_PASSWORD}"\n`);
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=127.0.0.1 port=${cluster.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `pool_mode = ${poolMode}`,
    'max_client_conn = 100',
    `default_pool_size = ${poolSize}`,
    'ignore_startup_parameters = extra_float_digits,options',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
    '',
  ].join('\n'));
  for (const file of ['userlist.txt', 'pgbouncer.ini']) chownToPostgres(join(dir, file));
  const child: ChildProcess = spawnAsPostgres('/usr/sbin/pgbouncer', [join(dir, 'pgbouncer.ini')]);
  let exited = false;
  child.once('exit', () => { exited = true; });
  const kill = () => { if (!exited) child.kill('SIGTERM'); };
  process.once('exit', kill);
  try {
    await waitForPort(port, 10_000);
  } catch (error) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    uri: (database) =>
      `postgresql://${OWNER_ROLE}:${encodeURIComponent(OWNER_PASSWORD)}@127.0.0.1:${port}/${encodeURIComponent(database)}?sslmode=disable`,
    async kill() {
      if (exited) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      // runuser forwards SIGTERM but not SIGKILL, so kill PgBouncer itself through its pid file.
      spawnSync('pkill', ['-KILL', '-f', join(dir, 'pgbouncer.ini')]);
      await done;
    },
    async stop() {
      if (!exited) {
        const done = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await done;
      }
      process.removeListener('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
