// The two test servers (source and target): throwaway clusters, or the servers named by the environment.

import pg from 'pg';
import './state-home.js';
import { readSchemaSql } from '../../schema/apply.js';
import { Cluster, OWNER_PASSWORD, OWNER_ROLE, startCluster, TEMPLATE_DATABASE, type ClusterOptions } from './cluster.js';

/** One PostgreSQL server the tests may create databases on. */
export class TestServer {
  private databases = 0;
  /** Query parameters of owner URIs unless a call names its own (a TLS-only server needs sslmode=require). */
  ownerParams = 'sslmode=disable';

  constructor(
    readonly name: string,
    /** Present when the harness started the server itself (fault tests need it to stop or restart it). */
    readonly cluster: Cluster | undefined,
    private readonly adminUrl: URL,
  ) {}

  private adminConfig(database: string): pg.ClientConfig {
    if (this.cluster) return this.cluster.adminConfig(database);
    const url = new URL(this.adminUrl);
    url.pathname = `/${encodeURIComponent(database)}`;
    return { connectionString: url.toString() };
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

  /** A client connected as the owner role (what archon-sync runs as). */
  async owner(database: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.ownerUri(database) });
    await client.connect();
    return client;
  }

  async asOwner<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.owner(database);
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  ownerUri(database: string, params = this.ownerParams): string {
    if (this.cluster) return this.cluster.uri(database, OWNER_ROLE, OWNER_PASSWORD, params);
    const url = new URL(this.adminUrl);
    url.username = OWNER_ROLE;
    url.password = OWNER_PASSWORD;
    url.pathname = `/${encodeURIComponent(database)}`;
    url.search = params ? `?${params}` : '';
    return url.toString();
  }

  /** A fresh database with the Archon schema (empty tables), owned by the owner role. */
  async createDatabase(prefix = 'db'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.databases}`;
    await this.admin('postgres', (client) =>
      client.query(`CREATE DATABASE "${name}" TEMPLATE ${TEMPLATE_DATABASE} OWNER ${OWNER_ROLE}`));
    return name;
  }

  async dropDatabase(name: string): Promise<void> {
    await this.admin('postgres', (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }

  /** Grants or revokes the owner's right to SET session_replication_role (PG 15 GRANT SET ON PARAMETER, as Supabase allows). */
  async allowReplicationRole(allowed: boolean): Promise<void> {
    await this.admin('postgres', (client) =>
      client.query(allowed
        ? `GRANT SET ON PARAMETER session_replication_role TO ${OWNER_ROLE}`
        : `REVOKE SET ON PARAMETER session_replication_role FROM ${OWNER_ROLE}`));
  }

  /** Prepares an external server once: the owner role and the template database. */
  async ensureTemplate(): Promise<void> {
    const exists = await this.admin('postgres', async (client) =>
      (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DATABASE])).rowCount === 1);
    if (exists) return;
    await this.admin('postgres', async (client) => {
      const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [OWNER_ROLE]);
      if (role.rowCount === 0) {
        await client.query(`CREATE ROLE ${OWNER_ROLE} LOGIN PASSWORD '${OWNER_PASSWORD}' NOSUPERUSER`);
      }
      await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE} OWNER ${OWNER_ROLE}`);
      await client.query(`GRANT SET ON PARAMETER session_replication_role TO ${OWNER_ROLE}`);
    });
    await this.admin(TEMPLATE_DATABASE, async (client) => {
      await client.query(await readSchemaSql('extensions'));
      await client.query(`SET ROLE ${OWNER_ROLE}`);
      await client.query(await readSchemaSql('archon'));
      await client.query(await readSchemaSql('sync-history'));
      await client.query('RESET ROLE');
    });
  }

  close(): void {
    this.cluster?.destroySync();
  }
}

export interface TestServers {
  source: TestServer;
  target: TestServer;
  close(): Promise<void>;
}

/**
 * Source and target servers for one test file: ARCHON_SYNC_TEST_SOURCE_URL / _TARGET_URL (superuser URLs)
 * when set, else two throwaway clusters started here and removed when the process exits.
 */
export async function testServers(options: { source?: ClusterOptions; target?: ClusterOptions } = {}): Promise<TestServers> {
  const sourceUrl = process.env.ARCHON_SYNC_TEST_SOURCE_URL;
  const targetUrl = process.env.ARCHON_SYNC_TEST_TARGET_URL;
  let source: TestServer;
  let target: TestServer;
  if (sourceUrl && targetUrl) {
    if (options.source || options.target) {
      throw new Error('this test file starts servers with its own settings (e.g. TLS); run it without ARCHON_SYNC_TEST_SOURCE_URL/_TARGET_URL');
    }
    source = new TestServer('source', undefined, new URL(sourceUrl));
    target = new TestServer('target', undefined, new URL(targetUrl));
    await source.ensureTemplate();
    await target.ensureTemplate();
  } else {
    const [sourceCluster, targetCluster] = await Promise.all([
      startCluster('source', options.source),
      startCluster('target', options.target),
    ]);
    source = new TestServer('source', sourceCluster, new URL('postgresql://unused'));
    target = new TestServer('target', targetCluster, new URL('postgresql://unused'));
  }
  return {
    source,
    target,
    close() {
      source.close();
      target.close();
      return Promise.resolve();
    },
  };
}
