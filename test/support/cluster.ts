// Throwaway PostgreSQL 15 clusters for tests, the demo and the benchmark: start, stop, clean up, always.

import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readSchemaSql } from '../../schema/apply.js';

export const PG_BIN = process.env.ARCHON_SYNC_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The non-superuser role that owns the Archon tables, as `postgres` does on Supabase. */
export const OWNER_ROLE = 'archon_owner';
export const OWNER_PASSWORD = 'Owner-s3cret-pw';
export const TEMPLATE_DATABASE = 'archon_template';
const CLUSTER_PREFIX = 'archon-sync-pg-';

const isRoot = process.getuid?.() === 0;
const runningClusters = new Set<Cluster>();

function pgUserIds(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const result = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error('running as root needs a "postgres" OS user to own test clusters (scripts/setup.sh installs it)');
  return { uid: Number(result.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * pg_ctl start inside a private mount namespace whose /dev/shm is a tmpfs of `megabytes`: the postmaster and
 * every backend it forks see only that, as in a container, while the rest of the machine is unaffected.
 */
function startWithSharedMemoryLimit(megabytes: number, pgCtlArgs: string[]): void {
  if (!isRoot) throw new Error('a cluster with a /dev/shm limit needs root (a mount namespace and tmpfs)');
  const script = `mount -t tmpfs -o size=${Math.round(megabytes)}m archon-sync-shm /dev/shm && exec runuser -u postgres -- "$@"`;
  const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', join(PG_BIN, 'pg_ctl'), ...pgCtlArgs], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pg_ctl start with a ${megabytes} MB /dev/shm failed (${result.status}): ${result.stderr}${result.stdout}`);
}

/** Runs a PostgreSQL server program, as the postgres OS user when we are root (initdb refuses root). */
function runPgProgram(program: string, args: string[], options: SpawnSyncOptions = {}): string {
  const command = isRoot ? 'runuser' : join(PG_BIN, program);
  const argv = isRoot ? ['-u', 'postgres', '--', join(PG_BIN, program), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(`${program} ${args.join(' ')} failed (${result.status}): ${String(result.stderr)}${String(result.stdout)}`);
  }
  return String(result.stdout);
}

function chownToPostgres(path: string): void {
  const ids = pgUserIds();
  if (ids) chownSync(path, ids.uid, ids.gid);
}

/** A free TCP port on loopback (the kernel picks it; a tiny race with other processes is retried by callers). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops and removes clusters left by test processes that died without cleaning up (SIGKILL, power loss). */
function sweepOrphans(): void {
  for (const entry of readdirSync(tmpdir())) {
    const match = new RegExp(`^${CLUSTER_PREFIX}(\\d+)-`).exec(entry);
    if (!match || processAlive(Number(match[1]))) continue;
    const dir = join(tmpdir(), entry);
    if (existsSync(join(dir, 'data', 'postmaster.pid'))) {
      spawnSync(isRoot ? 'runuser' : join(PG_BIN, 'pg_ctl'),
        isRoot ? ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', 'stop'] : ['-D', join(dir, 'data'), '-m', 'immediate', 'stop'],
        { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function stopAllSync(): void {
  for (const cluster of runningClusters) cluster.destroySync();
}

let exitHooksInstalled = false;
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', stopAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAllSync();
      process.kill(process.pid, signal);
    });
  }
}

export interface ClusterOptions {
  /** Extra postgresql.conf lines. */
  settings?: Record<string, string | number>;
  /** Replaces the default pg_hba.conf lines. */
  hba?: string[];
  /** Files to place in the data directory before start (e.g. TLS key and certificate). */
  files?: Record<string, string>;
  /**
   * Size of the server's /dev/shm, as a container's shm_size caps it (Docker's default is 64): the server runs
   * in its own mount namespace with a tmpfs that size. Needs root.
   */
  sharedMemoryMb?: number;
}

const BASE_SETTINGS: Record<string, string | number> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: 60,
  shared_buffers: '128MB',
  max_wal_size: '2GB',
  logging_collector: 'off',
  log_min_messages: 'warning',
  // Run as on Supabase: an index build may use more memory than the 64MB default when asked to.
  max_parallel_maintenance_workers: 2,
};

const DEFAULT_HBA = [
  'local all all trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  'host all all ::1/128 scram-sha-256',
];

/** One running throwaway cluster. Admin access is the superuser over the Unix socket; tests use the owner role over TCP. */
export class Cluster {
  stopped = false;
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    readonly sharedMemoryMb?: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get socketDir(): string {
    return this.dir;
  }

  /** A superuser client config over the Unix socket. */
  adminConfig(database = 'postgres'): pg.ClientConfig {
    return { host: this.socketDir, port: this.port, user: 'postgres', database };
  }

  async admin<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client(this.adminConfig(database));
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** A URI for a role over TCP on loopback, as users give it to archon-sync. */
  uri(database: string, role = OWNER_ROLE, password = OWNER_PASSWORD, params = 'sslmode=disable'): string {
    return `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${encodeURIComponent(database)}${params ? `?${params}` : ''}`;
  }

  /** The server's stderr log (pg_ctl -l): what log_statement and friends write to. */
  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  start(): void {
    const args = ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-o', `-p ${this.port} -k ${this.socketDir}`, 'start'];
    if (this.sharedMemoryMb === undefined) runPgProgram('pg_ctl', args);
    else startWithSharedMemoryLimit(this.sharedMemoryMb, args);
    this.stopped = false;
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    if (this.stopped) return;
    runPgProgram('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
    this.stopped = true;
  }

  /** Stops the server (if running) and deletes its directory; synchronous so it can run in an exit handler. */
  destroySync(): void {
    try {
      if (!this.stopped && existsSync(join(this.dataDir, 'postmaster.pid'))) this.stop('immediate');
    } catch {
      // Already gone; the directory removal below is what matters.
    }
    rmSync(this.dir, { recursive: true, force: true });
    runningClusters.delete(this);
  }

  serverLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

/** Hash of everything the cached data directory depends on, so a schema change rebuilds the cache. */
async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['extensions', 'archon', 'sync-history'] as const) hash.update(await readSchemaSql(file));
  hash.update(JSON.stringify(BASE_SETTINGS));
  hash.update(cachedDataDir.toString());
  hash.update(runPgProgram('postgres', ['--version']));
  return hash.digest('hex').slice(0, 16);
}

/** Builds (once per schema version) a data directory holding the owner role and the Archon template database. */
async function cachedDataDir(): Promise<string> {
  const cacheRoot = join(tmpdir(), `archon-sync-pgcache-${userInfo().username}`);
  const cached = join(cacheRoot, await templateKey());
  if (existsSync(join(cached, 'PG_VERSION'))) return cached;
  mkdirSync(cacheRoot, { recursive: true });
  const build = mkdtempSync(join(tmpdir(), `${CLUSTER_PREFIX}${process.pid}-build-`));
  chownToPostgres(build);
  const data = join(build, 'data');
  runPgProgram('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N']);
  writeConfig(data, {}, undefined);
  const cluster = new Cluster('template-build', build, await freePort());
  runningClusters.add(cluster);
  cluster.start();
  try {
    await cluster.admin('postgres', async (client) => {
      await client.query(`CREATE ROLE ${OWNER_ROLE} LOGIN PASSWORD '${OWNER_PASSWORD}' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE} OWNER ${OWNER_ROLE}`);
      // As on Supabase, the owner may SET session_replication_role; tests revoke it to exercise the fallback.
      await client.query(`GRANT SET ON PARAMETER session_replication_role TO ${OWNER_ROLE}`);
    });
    await cluster.admin(TEMPLATE_DATABASE, async (client) => {
      await client.query(await readSchemaSql('extensions'));
      await client.query(`SET ROLE ${OWNER_ROLE}`);
      await client.query(await readSchemaSql('archon'));
      await client.query(await readSchemaSql('sync-history'));
      await client.query('RESET ROLE');
    });
    cluster.stop('fast');
    runningClusters.delete(cluster);
  } catch (error) {
    cluster.destroySync();
    throw error;
  }
  // Another process may have built the same cache meanwhile; either copy is fine.
  try {
    renameSync(data, cached);
  } catch {
    // lost the race: the other copy is identical
  }
  rmSync(build, { recursive: true, force: true });
  return cached;
}

function writeConfig(dataDir: string, settings: Record<string, string | number>, hba: string[] | undefined): void {
  const all: Record<string, string | number> = { ...BASE_SETTINGS, listen_addresses: '127.0.0.1', ...settings };
  const lines = Object.entries(all).map(([key, value]) => (typeof value === 'number' ? `${key} = ${value}` : `${key} = '${value}'`));
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
  writeFileSync(join(dataDir, 'pg_hba.conf'), `${(hba ?? DEFAULT_HBA).join('\n')}\n`);
}

/** Starts a cluster from the cached template data directory: a copy and a start, about a second. */
export async function startCluster(name: string, options: ClusterOptions = {}): Promise<Cluster> {
  installExitHooks();
  sweepOrphans();
  const source = await cachedDataDir();
  const dir = mkdtempSync(join(tmpdir(), `${CLUSTER_PREFIX}${process.pid}-${name}-`));
  chownToPostgres(dir);
  const copy = spawnSync('cp', ['-a', source, join(dir, 'data')]);
  if (copy.status !== 0) throw new Error(`copying the template cluster failed: ${String(copy.stderr)}`);
  writeConfig(join(dir, 'data'), options.settings ?? {}, options.hba);
  for (const [file, content] of Object.entries(options.files ?? {})) {
    const path = join(dir, 'data', file);
    writeFileSync(path, content, { mode: 0o600 });
    chownToPostgres(path);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const cluster = new Cluster(name, dir, await freePort(), options.sharedMemoryMb);
    runningClusters.add(cluster);
    try {
      cluster.start();
      return cluster;
    } catch (error) {
      lastError = error;
      runningClusters.delete(cluster);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/**
 * A cluster that outlives this process (the demo's): created from the cached template on first use in `dir`,
 * started again on later runs. Not removed at exit; call `stop()`.
 */
export async function openPersistentCluster(name: string, dir: string): Promise<Cluster> {
  mkdirSync(dir, { recursive: true });
  chownToPostgres(dir);
  const portFile = join(dir, 'port');
  if (!existsSync(join(dir, 'data', 'PG_VERSION'))) {
    const copy = spawnSync('cp', ['-a', await cachedDataDir(), join(dir, 'data')]);
    if (copy.status !== 0) throw new Error(`copying the template cluster failed: ${String(copy.stderr)}`);
    writeConfig(join(dir, 'data'), {}, undefined);
    writeFileSync(portFile, String(await freePort()));
  }
  const cluster = new Cluster(name, dir, Number(readFileSync(portFile, 'utf8')));
  const running = spawnSync(join(PG_BIN, 'pg_ctl'), ['-D', cluster.dataDir, 'status'], { stdio: 'ignore' });
  if (running.status !== 0) cluster.start();
  return cluster;
}

/** Spawns a long-lived helper process (PgBouncer) owned by the postgres OS user when root. */
export function spawnAsPostgres(program: string, args: string[]) {
  return isRoot
    ? spawn('runuser', ['-u', 'postgres', '--', program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export { chownToPostgres };
