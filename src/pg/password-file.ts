// The password libpq would read from ~/.pgpass (or $PGPASSFILE) when neither the URI nor PGPASSWORD has one.

import pgpass from 'pgpass';
import { registerSecret } from './redact.js';

export interface PasswordLookup {
  host: string;
  port: number;
  database: string;
  user: string;
  /** A Unix-socket directory as host: libpq matches such connections against "localhost" lines. */
  socket: boolean;
}

/** The matching entry of the password file, or undefined (no file, no match, or a file others can read). */
export function passwordFromFile(lookup: PasswordLookup): Promise<string | undefined> {
  const host = lookup.socket ? 'localhost' : lookup.host;
  return new Promise((resolve) => {
    pgpass({ host, port: lookup.port, database: lookup.database, user: lookup.user }, (password) => {
      registerSecret(password);
      resolve(password);
    });
  });
}
