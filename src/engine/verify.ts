// verify(): which rows differ between the two databases, computed on the servers, writing nothing.

import { readCatalog, countRows } from '../pg/catalog.js';
import { useCanonicalTextOutput } from '../pg/row-digests.js';
import { beginReadOnly, beginSourceSnapshot, backendPid } from '../pg/target-statements.js';
import { compareTable, tableSpecs, type TableComparison } from './compare.js';
import { ProgressTracker, type SyncEventListener } from './events.js';
import {
  asSyncError, cancelOnAbort, DEFAULT_LOCK_TIMEOUT_MS, openSession, selectedTables, throwIfAborted, type ConnectionOptions,
} from './session.js';

export interface VerifyOptions extends ConnectionOptions {
  /** How many example keys to report per kind of difference; default 10. */
  sampleLimit?: number | undefined;
  /** Progress events (phase `verification`, rows compared / total). */
  onEvent?: SyncEventListener | undefined;
}

export interface VerifyResult {
  equal: boolean;
  tables: TableComparison[];
  seconds: number;
}

export const DEFAULT_SAMPLE_LIMIT = 10;

/** Compares the selected tables row by row (primary key → md5 of the row) between source and target. */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const session = await openSession(options);
  const stopCancelling = cancelOnAbort(options, session);
  try {
    const schema = options.schema ?? 'public';
    const tables = selectedTables(options);
    await beginSourceSnapshot(session.source);
    // Repeatable read on the target too: both sides are compared as of one moment each.
    await beginReadOnly(session.target, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    session.sourcePid = await backendPid(session.source);
    session.targetPid = await backendPid(session.target);
    await useCanonicalTextOutput(session.source);
    await useCanonicalTextOutput(session.target);
    const [sourceCatalog, targetCatalog] = [await readCatalog(session.source, schema, tables), await readCatalog(session.target, schema, tables)];
    const { specs, missing } = tableSpecs(sourceCatalog, targetCatalog, schema, tables);
    const tracker = new ProgressTracker(options.onEvent ?? (() => undefined), true);
    const totals = new Map<string, number>();
    for (const spec of specs) totals.set(spec.name, await countRows(session.source, spec.sql));
    tracker.totalRows = [...totals.values()].reduce((a, b) => a + b, 0);
    tracker.setPhase('verification');
    const results: TableComparison[] = [...missing];
    for (const spec of specs) {
      throwIfAborted(options.signal);
      tracker.startTable(spec.name, totals.get(spec.name) ?? 0);
      const result = await compareTable(session.source, session.target, spec, options.sampleLimit ?? DEFAULT_SAMPLE_LIMIT,
        (compared) => tracker.tableProgress(compared, 0));
      tracker.endTable(result.sourceRows, 0);
      results.push(result);
    }
    const order = new Map(tables.map((t, i) => [t, i]));
    results.sort((a, b) => (order.get(a.table) ?? 0) - (order.get(b.table) ?? 0));
    return { equal: results.every((r) => r.equal), tables: results, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    throw asSyncError(error, 'verification', options.signal);
  } finally {
    stopCancelling();
    await session.source.query('ROLLBACK').catch(() => undefined);
    await session.target.query('ROLLBACK').catch(() => undefined);
    await session.close();
  }
}
