// The one line a person reads when a connection cannot be opened: the driver's or socket's error code mapped to
// what is wrong and what to do, with the cause as a type.

import { ConnectionError, type FailureCause } from '../errors.js';
import { optionNamed, phrase, type Phrase } from '../advice.js';
import { redact } from './redact.js';
import { isPoolQueueTimeout } from './server-errors.js';
import { isServerWithoutTls } from './tls.js';
import { NO_PASSWORD, type Endpoint } from './uri.js';

/** Our own connect clock ran out: the server (or something on the way) did not answer in time. */
export class ConnectTimedOut extends Error {
  readonly code = 'ARCHON_SYNC_CONNECT_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'ConnectTimedOut';
  }
}

export interface ConnectAttempt {
  /** The limit that applied and where it came from: the option (a front end's flag) or the URI's connect_timeout. */
  timeout: { ms: number; from: 'option' | 'uri' };
  /** Whether the last attempt used TLS. */
  attemptedTls: boolean;
}

/** Maps a driver or socket error to one line that says what is wrong and what to do. */
export function connectionErrorFor(error: unknown, endpoint: Endpoint, side: string, attempt: ConnectAttempt): ConnectionError {
  const err = error as { code?: string; message?: string; address?: string };
  const where = `${side} ${endpoint.label}`;
  const raw = redact(err.message ?? String(error));
  const said = (text: Phrase | string, failure: FailureCause | undefined) => ({ text: typeof text === 'string' ? [text] : text, failure });
  let outcome: { text: Phrase; failure: FailureCause | undefined };
  switch (err.code) {
    case 'CONNECTION':
      // The docker transport's own ConnectionError: it already names the failure (docker, container, bridge).
      outcome = said(`cannot connect to ${where}: ${raw}`, 'unreachable');
      break;
    case 'ARCHON_SYNC_CONNECT_TIMEOUT': {
      const seconds = Math.round(attempt.timeout.ms / 1000);
      outcome = said(attempt.timeout.from === 'uri'
        ? phrase`cannot connect to ${where}: no answer within ${seconds} s; check the host, port and firewall (connect_timeout in the URI changes the limit)`
        : phrase`cannot connect to ${where}: no answer within ${seconds} s; check the host, port and firewall (${optionNamed('connectTimeoutMs')} changes the limit)`, 'connect-timeout');
      break;
    }
    case 'ECONNREFUSED':
      outcome = said(`cannot connect to ${where}: connection refused; is PostgreSQL running and listening on that host and port?`, 'unreachable');
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      outcome = said(`cannot connect to ${where}: host name "${endpoint.host}" cannot be resolved; check the host in the URI`, 'unreachable');
      break;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      outcome = said(err.address?.includes(':')
        ? `cannot connect to ${where}: no route to IPv6 address ${err.address}; Supabase's direct db.<ref>.supabase.co host is IPv6-only, use the session pooler URI (port 5432 on the pooler host) instead`
        : `cannot connect to ${where}: network unreachable (${raw})`, 'unreachable');
      break;
    case 'ENOENT':
      outcome = said(`cannot connect to ${where}: no server socket in ${endpoint.host}; is PostgreSQL running there?`, 'unreachable');
      break;
    case '28P01':
      outcome = said(`cannot connect to ${where}: password authentication failed for user "${endpoint.user}"; check the password in the URI`, 'authentication');
      break;
    case NO_PASSWORD:
      outcome = said(`cannot connect to ${where}: the server asks for a password for user "${endpoint.user}" and none was given; put it in the URI, in PGPASSWORD or in ~/.pgpass (PGPASSFILE), as for psql`, 'authentication');
      break;
    case '3D000':
      outcome = said(`cannot connect to ${where}: database "${endpoint.database}" does not exist`, 'no-database');
      break;
    case '28000':
      outcome = attempt.attemptedTls || endpoint.socket
        ? said(`cannot connect to ${where}: the server rejected the login (${raw})`, 'authentication')
        // A login refused in clear text is pg_hba.conf without a `host` line for it: with `hostssl` lines, TLS is required.
        : said(`cannot connect to ${where}: the server requires TLS; use sslmode=require (or verify-full with sslrootcert) instead of sslmode=${endpoint.sslMode}`, 'tls');
      break;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_UNTRUSTED':
      outcome = said(`cannot connect to ${where}: the server's TLS certificate is not trusted; pass the CA that signed it with sslrootcert=/path/to/ca.crt (for Supabase, download its CA certificate from the dashboard)`, 'tls');
      break;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      outcome = said(`cannot connect to ${where}: the TLS certificate does not match host "${endpoint.host}"; use the host name on the certificate or sslmode=verify-ca`, 'tls');
      break;
    default:
      outcome = isPoolQueueTimeout(error)
        ? said(`cannot connect to ${where}: the pooler has no free server connection (its query_wait_timeout passed); raise its pool_size or use session mode`, 'pool-exhausted')
        : isServerWithoutTls(error)
        ? said(`cannot connect to ${where}: the server does not support TLS but sslmode=${endpoint.sslMode} requires it; use sslmode=disable or prefer for this server`, 'tls')
        : said(`cannot connect to ${where}: ${raw}`, undefined);
  }
  return new ConnectionError(outcome.text, { cause: error, failure: outcome.failure, details: { side, endpoint: endpoint.label, code: err.code } });
}
