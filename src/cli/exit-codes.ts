// Error → exit code: the only place the CLI decides how a run ends.

import { isArchonSyncError } from '../errors.js';

export const EXIT = {
  ok: 0,
  arguments: 1,
  connection: 2,
  copy: 3,
  verification: 4,
  cancelled: 5,
} as const;

export function exitCodeFor(error: unknown): number {
  if (!isArchonSyncError(error)) return EXIT.copy;
  switch (error.code) {
    case 'CONFIGURATION':
      return EXIT.arguments;
    case 'CONNECTION':
      return EXIT.connection;
    case 'VALIDATION':
    case 'COPY':
      return EXIT.copy;
    case 'VERIFICATION':
      return EXIT.verification;
    case 'CANCELLED':
      return EXIT.cancelled;
  }
}
