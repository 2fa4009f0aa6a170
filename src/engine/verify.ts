// verify(): which rows differ between the two databases, computed on the servers, writing nothing.

import { ValidationError, type ArchonSyncError } from '../errors.js';
import { catalogFrom, catalogStatement, type Catalog } from '../pg/catalog.js';
import { Stalled } from '../pg/stall-watch.js';
import { beginReadOnly, syncLockHeld } from '../pg/transactions.js';
import type { TableComparison, VerifyOptions, VerifyResult } from '../types.js';
import { compareTable, tableSpecs } from './compare.js';
import { Session } from './connections.js';
import { ProgressTracker } from './progress-tracker.js';
import { asSyncError, stallError } from './failure.js';
import { verifyByDigests } from './verify-digests.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { buildPlan, type TablePlan } from './plan.js';
import { openSourceSnapshot } from './read-plan.js';
import { refuseIfAnotherRun, throwIfAborted } from './refusals.js';



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

/**
 * The tables as a sync between these two databases plans them, whose watermark verify may go by: only with
 * the watermark option on, the target's history table readable, and a plan a sync would accept.
 */
function watermarkTables(options: ResolvedOptions, historyReadable: boolean, source: Catalog, target: Catalog, sourceRows: Map<string, number>): { schema: string; tables: TablePlan[] } | { unusable: string } {
  if (!options.watermark) return { unusable: 'the watermark is not used (watermark: false)' };
  if (!historyReadable) return { unusable: 'the target has no readable archon_sync_history table, where a watermark would be' };
  try {
    const plan = buildPlan({ schema: options.schema, tables: options.tables, source, target, sourceRows });
    return { schema: plan.schema, tables: plan.tables };
  } catch {
    return { unusable: 'a sync would refuse these two databases as they are, so no watermark of one can vouch for them' };
  }
}

/** Compares the selected tables row by row (primary key → md5 of the row) between source and target. */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const resolved = resolveOptions(options);
  const { tables, schema, lockTimeoutMs } = resolved;
  const session = await Session.open(resolved);
  const stopCancelling = session.cancelOnAbort(resolved.signal);
  let stall: ArchonSyncError | undefined;
  let current: string | undefined;
  try {
    // Repeatable read on both sides: each is compared as of one moment. A running sync would hold the target's
    // tables for its whole run; say so at once rather than wait behind it.
    // Each side's catalog in the message that opens its transaction (the target's only once it holds the lock).
    // Read-write: the digests are staged in temporary tables; the transaction is rolled back (session.release).
    const [source, begun] = await Promise.all([
      openSourceSnapshot(session.source, schema, tables, lockTimeoutMs, resolved.sourceEndpoint.label),
      beginReadOnly(session.target, { lockTimeoutMs, lockTables: [], readOnly: false, then: [catalogStatement(schema, tables, syncLockHeld('shared'))] }),
    ]);
    await refuseIfAnotherRun(session.target, begun.lockIsFree);
    const sourceCatalog = source.catalog;
    const targetCatalog = catalogFrom(begun.then[0]);
    if (!targetCatalog) throw new Error('the catalog query returned no row');
    session.sourcePid = sourceCatalog.server.backendPid;
    session.targetPid = targetCatalog.server.backendPid;
    refuseHiddenRows(sourceCatalog, 'source');
    refuseHiddenRows(targetCatalog, 'target');
    const { specs, missing } = tableSpecs(sourceCatalog, targetCatalog, schema, tables);
    const tracker = new ProgressTracker(resolved.onEvent, true);
    const totals = new Map(specs.map((spec) => [spec.name, source.rows.get(spec.name) ?? 0]));
    tracker.totalRows = [...totals.values()].reduce((a, b) => a + b, 0);
    tracker.setPhase('verification');
    const results: TableComparison[] = [...missing];
    // Keyed tables by their digests, all at once (going by the last sync's watermark where it vouches for a table);
    // tables without a key as one aggregate each.
    // A target that cannot hold temporary tables (a standby, a read-only role) is compared row by row, as before.
    const byDigest = begun.canStage ? specs.filter((spec) => spec.key.length > 0) : [];
    const digested = await verifyByDigests(session, { source: sourceCatalog, target: targetCatalog }, byDigest, {
      sampleLimit: resolved.sampleLimit, signal: resolved.signal, stallTimeoutMs: resolved.stallTimeoutMs, tracker, sourceRows: totals,
      onTable: (table) => { current = table; },
      watermark: watermarkTables(resolved, begun.historyReadable, sourceCatalog, targetCatalog, totals),
    });
    results.push(...digested.tables);
    const rowByRow = specs.filter((spec) => !byDigest.includes(spec));
    for (const spec of rowByRow.filter((s) => s.key.length > 0)) digested.everyRow[spec.name] = 'the target cannot hold temporary tables (a standby, a read-only transaction or no TEMP right), so it is compared row by row';
    for (const spec of rowByRow) {
      throwIfAborted(resolved.signal);
      current = `${spec.schema}.${spec.name}`;
      tracker.startTable(spec.name, totals.get(spec.name) ?? 0);
      const result = await compareTable(session.source, session.target, spec, {
        sampleLimit: resolved.sampleLimit,
        onProgress: (compared) => tracker.tableProgress(compared, 0),
        stallTimeoutMs: resolved.stallTimeoutMs,
        onStall: (stalled) => {
          stall ??= stallError(stalled, 'verification', current, 'nothing was changed');
          void session.abandon(stalled.side);
        },
        guard: (work) => session.guard(work),
      });
      tracker.endTable(result.sourceRows, 0);
      results.push(result);
    }
    const order = new Map(tables.map((t, i) => [t, i]));
    results.sort((a, b) => (order.get(a.table) ?? 0) - (order.get(b.table) ?? 0));
    return {
      equal: results.every((r) => r.equal), tables: results, seconds: (Date.now() - started) / 1000,
      comparedSince: digested.comparedSince, readEveryRow: digested.everyRow,
    };
  } catch (error) {
    // The digest stream's watch throws its Stalled (the row-by-row comparison reports through onStall).
    if (error instanceof Stalled && !stall) {
      stall = stallError(error, 'verification', current, 'nothing was changed');
      await session.abandon(error.side);
    }
    throw asSyncError(error, { step: 'verification', table: current, signal: resolved.signal, stall, lostSide: session.lostSide(), outcome: 'nothing was changed' });
  } finally {
    stopCancelling();
    await session.release();
    await session.close();
  }
}
