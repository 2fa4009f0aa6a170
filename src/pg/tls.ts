// TLS settings for one connection attempt, with libpq's meaning of each sslmode.

import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { ConfigurationError } from '../errors.js';
import type { ParsedUri } from './uri.js';

function readPemFile(path: string, what: string, side: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the ${side} ${what} file ${path}: ${(error as Error).message}`, { failure: 'invalid-option' });
  }
}

/**
 * require = encrypted but not verified (unless a root certificate is given, then like verify-ca), verify-ca =
 * chain checked, verify-full = chain and host name.
 */
export function tlsFor(parsed: ParsedUri, side: string, attemptTls: boolean): pg.ClientConfig['ssl'] {
  const { endpoint, sslRootCert, clientCert, clientKey } = parsed;
  if (endpoint.socket || !attemptTls || endpoint.sslMode === 'disable') return false;
  const clientIdentity = {
    ...(clientCert ? { cert: readPemFile(clientCert, 'sslcert', side) } : {}),
    ...(clientKey ? { key: readPemFile(clientKey, 'sslkey', side) } : {}),
  };
  const ca = sslRootCert ? readPemFile(sslRootCert, 'sslrootcert', side) : undefined;
  const mode = endpoint.sslMode === 'require' && ca !== undefined ? 'verify-ca' : endpoint.sslMode;
  switch (mode) {
    case 'allow':
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false, ...clientIdentity };
    case 'verify-ca':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined, ...clientIdentity };
    default:
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...clientIdentity };
  }
}

// node-postgres reports the server's answer to its SSLRequest ('N') only as this message, with no code: it is the
// one fact about a connection we can read from its words alone.
export function isServerWithoutTls(error: unknown): boolean {
  return error instanceof Error && error.message.includes('does not support SSL');
}

/** The server refused a connection without TLS (pg_hba.conf's `hostssl` lines only): SQLSTATE 28000 on a clear-text attempt. */
export function isEncryptionRequired(error: unknown, attemptedTls: boolean): boolean {
  return !attemptedTls && (error as { code?: unknown }).code === '28000';
}
