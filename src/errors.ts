// Typed errors of archon-sync: each has a stable `code`; the CLI maps codes to exit codes in one place.

export type ArchonSyncErrorCode =
  | 'CONFIGURATION'
  | 'CONNECTION'
  | 'VALIDATION'
  | 'COPY'
  | 'VERIFICATION'
  | 'CANCELLED';

export interface ErrorContext {
  /** The table the error is about, schema-qualified when known. */
  table?: string | undefined;
  /** The constraint the error is about. */
  constraint?: string | undefined;
  /** Machine-readable details (for logs and the history row). */
  details?: Record<string, unknown> | undefined;
  /** The library option the message's advice is about (e.g. `lockTimeoutMs`), so a front end can name its own flag. */
  option?: string | undefined;
  cause?: unknown;
}

/** Base class: `message` is one line a person can act on and never holds a password. */
export abstract class ArchonSyncError extends Error {
  abstract readonly code: ArchonSyncErrorCode;
  readonly table: string | undefined;
  readonly constraint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly option: string | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.table = context.table;
    this.constraint = context.constraint;
    this.details = context.details;
    this.option = context.option;
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

/** The caller aborted (AbortSignal, SIGINT, a declined prompt); the target was rolled back. */
export class CancelledError extends ArchonSyncError {
  readonly code = 'CANCELLED' as const;
}

export function isArchonSyncError(error: unknown): error is ArchonSyncError {
  return error instanceof ArchonSyncError;
}
