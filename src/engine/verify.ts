// verify(): which rows differ between the two databases, computed on the servers, writing nothing.

import { ValidationError } from '../errors.js';
import { readCatalog, countRows, type Catalog } from '../pg/catalog.js';
import { beginReadOnly } from '../pg/target-statements.js';
import { compareTable, tableSpecs, type TableComparison } from './compare.js';
import { Session, selectedTables, type ConnectionOptions } from './connections.js';
import { DEFAULTS } from './defaults.js';
import { ProgressTracker, type SyncEventListener } from './events.js';
import { asSyncError } from './failure.js';
import { openSourceSnapshot } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';

export interface VerifyOptions extends ConnectionOptions {
  /** How many example keys to report per kind of difference; default 10. */
  sampleLimit?: number | undefined;
  /** Progress events (phase `verification`, rows compared / total). */
  onEvent?: SyncEventListener | undefined;
  /** No row arriving from a side for this long ends the comparison; default 60 s. */
  stallTimeoutMs?: number | undefined;
}

export interface VerifyResult {
  equal: boolean;
  tables: TableComparison[];
  seconds: number;
}

/**
 * Rows that row-level security hides from the connected role would look missing on that side: a false
 * "differ". Refuse, as sync does, rather than report it.
 */
function refuseHiddenRows(catalog: Catalog, side: 'source' | 'target'): void {
  const hidden = [...catalog.tables.values()].filter((t) => t.rowSecurityActive);
  const first = hidden[0];
  if (!first) return;
  throw new ValidationError(
    `row-level security hides rows of ${first.schema}.${first.name}${hidden.length > 1 ? ` (and ${hidden.length - 1} more tables)` : ''} from role "${catalog.server.user}" on the ${side}, so a comparison would report them missing; connect as the tables' owner or a role with BYPASSRLS`,
    { table: `${first.schema}.${first.name}`, details: { side, tables: hidden.map((t) => t.name) } },
  );
}

/** Compares the selected tables row by row (primary key → md5 of the row) between source and target. */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const tables = selectedTables(options);
  const schema = options.schema ?? DEFAULTS.schema;
  const session = await Session.open(options);
  const stopCancelling = session.cancelOnAbort(options.signal);
  let stalled: string | undefined;
  try {
    const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs;
    // Repeatable read on both sides: each is compared as of one moment. A running sync would hold the target's
    // tables for its whole run; say so at once rather than wait behind it.
    await openSourceSnapshot(session.source, schema, tables, lockTimeoutMs);
    await refuseIfAnotherRun(session.target, await beginReadOnly(session.target, { lockTimeoutMs, lockTables: [] }));
    const [sourceCatalog, targetCatalog] = [await readCatalog(session.source, schema, tables), await readCatalog(session.target, schema, tables)];
    session.sourcePid = sourceCatalog.server.backendPid;
    session.targetPid = targetCatalog.server.backendPid;
    refuseHiddenRows(sourceCatalog, 'source');
    refuseHiddenRows(targetCatalog, 'target');
    const { specs, missing } = tableSpecs(sourceCatalog, targetCatalog, schema, tables);
    const tracker = new ProgressTracker(options.onEvent ?? (() => undefined), true);
    const counts = await countRows(session.source, specs.map((spec) => spec.sql));
    const totals = new Map(specs.map((spec, i) => [spec.name, counts[i] ?? 0]));
    tracker.totalRows = counts.reduce((a, b) => a + b, 0);
    tracker.setPhase('verification');
    const results: TableComparison[] = [...missing];
    for (const spec of specs) {
      throwIfAborted(options.signal);
      tracker.startTable(spec.name, totals.get(spec.name) ?? 0);
      const result = await compareTable(session.source, session.target, spec, {
        sampleLimit: options.sampleLimit ?? DEFAULTS.sampleLimit,
        onProgress: (compared) => tracker.tableProgress(compared, 0),
        stallTimeoutMs: options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
        onStall: (side, idleMs) => {
          stalled = `the ${side} stopped sending rows for ${Math.round(idleMs / 1000)} s while comparing ${spec.name} (stallTimeoutMs)`;
          void session.abandon(side);
        },
        guard: (work) => session.guard(work),
      });
      tracker.endTable(result.sourceRows, 0);
      results.push(result);
    }
    const order = new Map(tables.map((t, i) => [t, i]));
    results.sort((a, b) => (order.get(a.table) ?? 0) - (order.get(b.table) ?? 0));
    return { equal: results.every((r) => r.equal), tables: results, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    throw asSyncError(stalled ? new Error(stalled) : error, { step: 'verification', signal: options.signal });
  } finally {
    stopCancelling();
    await session.release();
    await session.close();
  }
}
