// The run's decisions turned into what acts on each table (its TableLoad) and into the preview a caller reads:
// both from the same loads, so a preview says exactly what the run then does.

import type { PreviewedPlan, PreviewTotals, SyncMode, SyncPlan, TablePreview, TargetEditsSummary, TriggerSuppression } from '../types.js';
import type { Decisions } from './decide.js';
import { deletionGuard, guardDeletes } from './delete-guard.js';
import { summarizeTargetEdits } from './target-edits.js';
import { IncrementalLoad } from './incremental.js';
import { FullCopy, type TableLoad } from './table-load.js';

/** Each decided table's load, in plan (load) order. */
export function loadsFor(plan: SyncPlan, decisions: Decisions): TableLoad[] {
  const incremental = decisions.tables.filter((d) => d.mode === 'incremental').map((d) => d.table);
  // A table copied in full that an incrementally loaded table still references cannot be TRUNCATEd alone.
  const referenced = new Set(plan.foreignKeys
    .filter((fk) => incremental.some((t) => t.name === fk.table && t.schema === fk.schema))
    .map((fk) => `${fk.refSchema}.${fk.refTable}`));
  return decisions.tables.map((decision) => {
    const { table } = decision;
    const tag = decisions.compared?.tables.indexOf(table) ?? -1;
    if (decision.mode === 'incremental' && decisions.compared && tag >= 0) return new IncrementalLoad(table, decisions.compared, tag);
    return new FullCopy(table, decision.targetRows, referenced.has(`${table.schema}.${table.name}`) ? 'delete' : 'truncate');
  });
}

function tablePreview(load: TableLoad, decisions: Decisions): TablePreview {
  const decision = decisions.tables.find((d) => d.table === load.table);
  const targetRows = decision?.targetRows ?? 0;
  const diff = load instanceof IncrementalLoad ? load.diff : undefined;
  // auto's full copy after comparing knows which keys vanish; a full copy made without comparing does not.
  const compared = decision?.diff;
  return {
    table: load.table.name,
    mode: load.mode,
    reason: decision?.reason,
    // A full copy moves every source row in and every target row out.
    inserts: diff ? diff.onlyOnSource.count : load.table.sourceRows,
    updates: diff ? diff.differing.count : 0,
    deletes: diff ? diff.onlyOnTarget.count : targetRows,
    sourceRows: load.table.sourceRows,
    targetRows,
    rowsToCopy: load.rowsToCopy,
    indexesToRebuild: load.indexesToBuild().length,
    guardDeletes: guardDeletes({ compared: compared !== undefined, deletes: compared?.onlyOnTarget.count ?? 0, sourceRows: load.table.sourceRows, targetRows }),
    targetEdits: decision?.targetEdits,
  };
}

function totalsOf(tables: readonly TablePreview[]): PreviewTotals {
  const sum = (pick: (t: TablePreview) => number) => tables.reduce((s, t) => s + pick(t), 0);
  return {
    tables: tables.length,
    incrementalTables: tables.filter((t) => t.mode === 'incremental').length,
    fullTables: tables.filter((t) => t.mode === 'full').length,
    inserts: sum((t) => t.inserts),
    updates: sum((t) => t.updates),
    deletes: sum((t) => t.deletes),
    rowsToCopy: sum((t) => t.rowsToCopy),
    indexesToRebuild: sum((t) => t.indexesToRebuild),
  };
}

/** The plan with what the run is about to do to every table. */
export function previewed(plan: SyncPlan, loads: readonly TableLoad[], decisions: Decisions,
  context: { mode: SyncMode; triggerSuppression: TriggerSuppression; maxDeleteShare: number; targetChanges: TargetEditsSummary['policy'] }): PreviewedPlan {
  const tables = loads.map((load) => tablePreview(load, decisions));
  return {
    ...plan,
    preview: {
      mode: context.mode, triggerSuppression: context.triggerSuppression, comparedSince: decisions.comparedSince,
      comparedInFull: decisions.comparedInFull, tables, totals: totalsOf(tables),
      guard: deletionGuard(tables, context.maxDeleteShare),
      targetEdits: summarizeTargetEdits(tables, context.targetChanges),
    },
  };
}
