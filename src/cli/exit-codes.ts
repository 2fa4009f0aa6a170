// Error → exit code: the only place the CLI decides how a run ends.

import { isArchonSyncError, type ArchonSyncErrorCode } from '../index.js';

export const EXIT = {
  ok: 0,
  arguments: 1,
  connection: 2,
  copy: 3,
  verification: 4,
  cancelled: 5,
  /** Committed on the target, not confirmed by its synchronous standby; or whether it committed is not known. */
  commitUnconfirmed: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * By the error's class. Its cause (error.failure) refines the advice, not the code: a connection lost mid-run is a
 * failed copy (3, rolled back), one that never opened is 2; a declined prompt and a signal are both cancellations.
 */
const EXIT_FOR_CODE: Record<ArchonSyncErrorCode, ExitCode> = {
  CONFIGURATION: EXIT.arguments,
  CONNECTION: EXIT.connection,
  VALIDATION: EXIT.copy,
  COPY: EXIT.copy,
  VERIFICATION: EXIT.verification,
  CANCELLED: EXIT.cancelled,
  COMMIT_UNCONFIRMED: EXIT.commitUnconfirmed,
};

export function exitCodeFor(error: unknown): ExitCode {
  return isArchonSyncError(error) ? EXIT_FOR_CODE[error.code] : EXIT.copy;
}
