// What goes into the history row: progress while running, and the final state of a completed or failed run.

import type { Wording } from '../advice.js';
import type { ArchonSyncError } from '../errors.js';
import type { HistoryFields } from '../pg/history-statements.js';
import type { ProgressFields, TableComparison, TableResult } from '../types.js';

export function progressFields(event: ProgressFields): HistoryFields {
  return {
    current_phase: event.phase,
    current_table: event.table ?? null,
    synced_rows: event.syncedRows,
    total_rows: event.totalRows,
    percent_complete: event.percent,
  };
}

function tablesSynced(tables: readonly TableResult[]): unknown[] {
  return tables.map((t) => ({
    name: t.table, mode: t.mode, rows: t.copiedRows, inserted: t.inserted, updated: t.updated, deleted: t.deleted,
    duration: Math.round(t.seconds * 1000) / 1000,
  }));
}

function verificationResults(tables: readonly TableResult[], checksums: readonly TableComparison[]): Record<string, unknown> {
  const byTable = new Map(checksums.map((c) => [c.table, c]));
  return Object.fromEntries(tables.map((t) => {
    const checksum = byTable.get(t.table);
    return [t.table, {
      source: t.sourceRows, copied: t.copiedRows, target: t.targetRows,
      ...(checksum ? { checksum: { equal: checksum.equal, onlyOnSource: checksum.onlyOnSource, onlyOnTarget: checksum.onlyOnTarget, differing: checksum.differing } } : {}),
    }];
  }));
}

export interface CompletedRun {
  tables: TableResult[];
  durations: { total: number; copy: number; indexing: number };
  bytes: number;
}

export function completedFields(result: CompletedRun, checksums: readonly TableComparison[] = []): HistoryFields {
  return {
    status: 'completed',
    current_phase: 'verification',
    current_table: null,
    percent_complete: 100,
    completed_at: new Date(),
    duration_seconds: Math.round(result.durations.total),
    synced_rows: result.tables.reduce((s, t) => s + t.copiedRows, 0),
    export_duration_seconds: Math.round(result.durations.copy),
    import_duration_seconds: Math.round(result.durations.copy),
    indexing_duration_seconds: Math.round(result.durations.indexing),
    export_size_mb: Math.round((result.bytes / 1048576) * 100) / 100,
    tables_synced: tablesSynced(result.tables),
    verification_results: verificationResults(result.tables, checksums),
  };
}

/** The failed run's row; `wording` names options as the caller does (the CLI: its flags), as its own error line does. */
export function failedFields(error: ArchonSyncError, tables: readonly TableResult[], started: number, checksums: readonly TableComparison[], wording: Wording): HistoryFields {
  return {
    status: error.code === 'CANCELLED' ? 'cancelled' : 'failed',
    completed_at: new Date(),
    duration_seconds: Math.round((Date.now() - started) / 1000),
    error_message: error.describe(wording),
    error_details: {
      code: error.code, failure: error.failure ?? null, table: error.table ?? null, constraint: error.constraint ?? null,
      ...(error.advice.length > 0 ? { advice: error.advice } : {}), ...(error.details ?? {}),
    },
    tables_synced: tablesSynced(tables),
    verification_results: verificationResults(tables, checksums),
  };
}
