// Typed errors of archon-sync: each has a stable `code` and, where known, the failure's cause as a type; the CLI
// maps them to exit codes in one place and words their advice itself.

import { adviceIn, LIBRARY_WORDING, wordPhrase, type Advice, type AdvisedOption, type Phrase, type Wording } from './advice.js';

export type ArchonSyncErrorCode =
  | 'CONFIGURATION'
  | 'CONNECTION'
  | 'VALIDATION'
  | 'COPY'
  | 'VERIFICATION'
  | 'CANCELLED'
  | 'COMMIT_UNCONFIRMED';

/** Why something failed, set where it happened (never read back from a message). */
export type FailureCause =
  /** A connection ended, or its socket failed, while the run still needed it. */
  | 'lost-connection'
  /** No data moved, or a server did not answer a probe, for stallTimeoutMs. */
  | 'stall'
  /** The pooler (PgBouncer) found no free server connection for us within its query_wait_timeout. */
  | 'pool-exhausted'
  /** A lock was not granted within lockTimeoutMs (SQLSTATE 55P03). */
  | 'lock-timeout'
  /** The server's disk is full (53100). */
  | 'out-of-disk'
  /** A parallel operation found too little dynamic shared memory: a container's small /dev/shm (53100 from dsm). */
  | 'shared-memory'
  /** The server ran out of memory, or an index build needs more maintenance_work_mem than it may use. */
  | 'out-of-memory'
  /** A configured limit such as temp_file_limit was reached (53400). */
  | 'resource-limit'
  /** The role lacks a privilege it needs (42501). */
  | 'permission'
  /** The server ended our session, crashed, or is starting up or shutting down (57P01–57P03). */
  | 'server-shutdown'
  /** A row points at a key that does not exist (23503, or the set-based check before COMMIT). */
  | 'foreign-key'
  /** Another archon-sync run holds the target. */
  | 'another-run'
  /** The two schemas cannot be copied between as they are. */
  | 'schema-mismatch'
  /** Source and target are the same database. */
  | 'same-database'
  /** An option or URI is not valid. */
  | 'invalid-option'
  /** No server answered within the connect timeout. */
  | 'connect-timeout'
  /** Refused, unresolvable, unreachable, or no socket there. */
  | 'unreachable'
  /** The server rejected the login (password, pg_hba). */
  | 'authentication'
  /** TLS could not be set up as the URI asks. */
  | 'tls'
  /** The database named in the URI does not exist. */
  | 'no-database'
  /** The archon_sync_history table does not exist where it was asked for. */
  | 'no-history-table'
  /** Row counts or row contents differ after loading. */
  | 'mismatch'
  /** The caller aborted (AbortSignal, a signal). */
  | 'aborted'
  /** COMMIT did not return within commitTimeoutMs and was cancelled: committed locally, the synchronous standby did not confirm. */
  | 'commit-unconfirmed'
  /** COMMIT did not return even when cancelled: whether it committed is not known here (the next run settles it). */
  | 'commit-unknown'
  /** The confirmation hook declined, or nobody answered. */
  | 'not-confirmed'
  /** The run would delete more of a table's target rows than maxDeleteShare allows, or empty it (the deletion guard). */
  | 'delete-guard'
  /** The target's own edits since the last committed run would be overwritten, and nobody chose to (targetChanges). */
  | 'target-edits'
  /** The run's old rows cannot be kept for undo, and the options say to refuse then. */
  | 'cannot-keep-backup'
  /** Undo refused: the target changed since, the run did not commit, the backup is another database's, … */
  | 'undo-refused';

export interface ErrorContext {
  /** The table the error is about, schema-qualified when known. */
  table?: string | undefined;
  /** The constraint the error is about. */
  constraint?: string | undefined;
  /** Machine-readable details (for logs and the history row). */
  details?: Record<string, unknown> | undefined;
  /** Why it failed, as a type. */
  failure?: FailureCause | undefined;
  /** Every problem found, when the message names the first and counts the rest. */
  problems?: readonly Phrase[] | undefined;
  cause?: unknown;
}

/** Base class: `message` is one line a person can act on and never holds a password. */
export abstract class ArchonSyncError extends Error {
  abstract readonly code: ArchonSyncErrorCode;
  readonly table: string | undefined;
  readonly constraint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  /** Why it failed, set where it happened. */
  readonly failure: FailureCause | undefined;
  /** The message with its advice as data, for a front end to word its own way (describe()). */
  readonly phrase: Phrase;
  /** What the message advises, in order: options to change, tables to leave out, a table to create. */
  readonly advice: readonly Advice[];
  /** Every problem found when the message names only the first (validation), each with its advice as data. */
  readonly problems: readonly Phrase[];

  constructor(message: string | Phrase, context: ErrorContext = {}) {
    const text = typeof message === 'string' ? [message] : message;
    super(wordPhrase(text, LIBRARY_WORDING), context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.table = context.table;
    this.constraint = context.constraint;
    this.details = context.details;
    this.failure = context.failure;
    this.phrase = text;
    this.advice = adviceIn(text);
    this.problems = context.problems ?? [];
  }

  /** The library option the advice names first, if any (e.g. `lockTimeoutMs`). */
  get option(): AdvisedOption | undefined {
    for (const advice of this.advice) if (advice.kind === 'option') return advice.option;
    return undefined;
  }

  /** The message in another front end's words (the CLI's flags instead of option names). */
  describe(wording: Wording): string {
    return wordPhrase(this.phrase, wording);
  }
}

/** Bad options or missing configuration; nothing was contacted or written. */
export class ConfigurationError extends ArchonSyncError {
  readonly code = 'CONFIGURATION' as const;
}

/** A server could not be reached or refused us. */
export class ConnectionError extends ArchonSyncError {
  readonly code = 'CONNECTION' as const;
}

/** The two schemas cannot be copied between as they are; found before any write. */
export class ValidationError extends ArchonSyncError {
  readonly code = 'VALIDATION' as const;
}

/** Copying, loading, index rebuilding or constraint checking failed; the target was rolled back. */
export class CopyError extends ArchonSyncError {
  readonly code = 'COPY' as const;
}

/** The copy finished but the target does not match the source snapshot; the target was rolled back. */
export class VerificationError extends ArchonSyncError {
  readonly code = 'VERIFICATION' as const;
}

/** The caller aborted (AbortSignal, SIGINT, a declined confirmation); the target was rolled back. */
export class CancelledError extends ArchonSyncError {
  readonly code = 'CANCELLED' as const;
}

/**
 * COMMIT did not return within commitTimeoutMs and was cancelled. `failure` says what that means: committed on the
 * target but not confirmed by its synchronous standby (`commit-unconfirmed`: `result` is the run's), or not known
 * (`commit-unknown`: the next run reads the transaction's fate with txid_status and records it).
 */
export class CommitUnconfirmedError extends ArchonSyncError {
  readonly code = 'COMMIT_UNCONFIRMED' as const;
  /** The completed run's result (a SyncResult) when it committed on the target. */
  readonly result: unknown;

  constructor(message: string | Phrase, context: ErrorContext & { result?: unknown } = {}) {
    super(message, context);
    this.result = context.result;
  }
}

export function isArchonSyncError(error: unknown): error is ArchonSyncError {
  return error instanceof ArchonSyncError;
}
