// What a renderer offers the commands, and how an error or a warning becomes the line a person reads.

import { isArchonSyncError, redact, wordPhrase, type SyncEvent, type HistoryRow, type SyncPlan, type SyncResult, type UndoResult, type VerifyResult, type Wording } from '../index.js';

export interface RunHeader {
  direction: string;
  source: string;
  target: string;
  syncId?: string | undefined;
}

export interface Renderer {
  /** The plan; with its decisions (`plan.preview`) for a dry run and before the confirmation. */
  plan(header: RunHeader, plan: SyncPlan, dryRun: boolean): void;
  event(event: SyncEvent): void;
  summary(result: SyncResult): void;
  verification(header: RunHeader, result: VerifyResult): void;
  history(rows: HistoryRow[]): void;
  /** What an undo put back. */
  undone(result: UndoResult): void;
  info(message: string): void;
  error(error: unknown): void;
  close(): void;
}

/** The one line an error becomes on the command line: its advice in the CLI's words, no password, no second line. */
export function errorLine(error: unknown, wording: Wording): string {
  const message = isArchonSyncError(error) ? error.describe(wording) : error instanceof Error ? error.message : String(error);
  return redact(message.split('\n')[0] ?? message);
}

/** The problems after the first, which a validation error's one line only counts, in the CLI's words. */
export function furtherProblems(error: unknown, wording: Wording): string[] {
  if (!isArchonSyncError(error)) return [];
  return error.problems.slice(1).map((problem) => redact(wordPhrase(problem, wording)));
}

/** A warning event's words on the command line. */
export function warningText(event: Extract<SyncEvent, { type: 'warning' }>, wording: Wording): string {
  return redact(event.phrase ? wordPhrase(event.phrase, wording) : event.message);
}

export function errorFields(error: unknown): Record<string, unknown> {
  if (isArchonSyncError(error)) {
    return { code: error.code, failure: error.failure, table: error.table, constraint: error.constraint, details: error.details };
  }
  return {};
}
