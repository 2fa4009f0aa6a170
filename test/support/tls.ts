// A throwaway certificate authority and server certificate made with openssl at test time (none are committed).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterOptions } from './cluster.js';

export interface TestCertificates {
  /** Path of the CA certificate, for sslrootcert=. */
  caFile: string;
  /** Cluster options that turn TLS on with the server certificate. */
  clusterOptions(hostSslOnly: boolean): ClusterOptions;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'archon-sync-tls-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=archon-sync test CA',
    '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'san.ext', '-out', 'server.crt'], dir);
  const files = {
    'server.crt': readFileSync(join(dir, 'server.crt'), 'utf8'),
    'server.key': readFileSync(join(dir, 'server.key'), 'utf8'),
  };
  return {
    caFile: join(dir, 'ca.crt'),
    clusterOptions(hostSslOnly) {
      return {
        // 127.0.0.2 reaches the same server under a name the certificate does not carry.
        settings: { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', listen_addresses: '127.0.0.1,127.0.0.2' },
        files,
        hba: [
          'local all all trust',
          `${hostSslOnly ? 'hostssl' : 'host'} all all 127.0.0.0/8 scram-sha-256`,
          `${hostSslOnly ? 'hostssl' : 'host'} all all ::1/128 scram-sha-256`,
        ],
      };
    },
  };
}
