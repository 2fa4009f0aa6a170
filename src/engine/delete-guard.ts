// The deletion guard: what counts as a row a run deletes, and which tables a run may not empty or mostly empty.
// One function for the preview and the sync, so a dry run shows the very refusal the sync would make.

import { optionNamed, phrase, type Phrase } from '../advice.js';
import { ValidationError } from '../errors.js';
import type { DeleteGuard, GuardedTable, TablePreview } from '../types.js';

/**
 * Rows of the target a table's load deletes, as the guard counts them. Where keys were compared (an incremental
 * load, or auto's full copy once more than fullCopyShare changed) it is the target-only keys: rows that vanish.
 * A full copy made without comparing empties the table and reloads it, so its keys are unknown: the guard counts
 * its net loss, target rows − source rows (a reload of the same rows deletes nothing that stays lost).
 */
export function guardDeletes(load: { compared: boolean; deletes: number; sourceRows: number; targetRows: number }): number {
  return load.compared ? load.deletes : Math.max(0, load.targetRows - load.sourceRows);
}

/**
 * The tables a run would delete more than `maxDeleteShare` of (so also every table it would empty), in load order.
 * A table empty on the target is never refused: a first copy deletes nothing. `maxDeleteShare` 1 refuses nothing.
 */
export function deletionGuard(tables: readonly Pick<TablePreview, 'table' | 'guardDeletes' | 'targetRows'>[], maxDeleteShare: number): DeleteGuard {
  const refused = tables
    .filter((t) => t.targetRows > 0 && t.guardDeletes / t.targetRows > maxDeleteShare)
    .map((t): GuardedTable => ({ table: t.table, deletes: t.guardDeletes, targetRows: t.targetRows, share: t.guardDeletes / t.targetRows }));
  return { maxDeleteShare, refused };
}

const fmt = new Intl.NumberFormat('en-US');

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10} %`;
}

/** Tables a refusal names one by one; the rest are summed, so a whole database going still fits one line. */
const NAMED_TABLES = 3;

/**
 * `10,000 of 10,000 rows of archon_crawled_pages (100 %), 2,500 of 4,000 of archon_code_examples (62.5 %)`, the
 * largest first, then `and 37 rows of 11 more tables`.
 */
export function guardedTables(refused: readonly GuardedTable[]): string {
  const largestFirst = [...refused].sort((a, b) => b.deletes - a.deletes);
  const named = largestFirst.slice(0, NAMED_TABLES)
    .map((t, i) => `${fmt.format(t.deletes)} of ${fmt.format(t.targetRows)}${i === 0 ? ' rows' : ''} of ${t.table} (${percent(t.share)})`).join(', ');
  const rest = largestFirst.slice(NAMED_TABLES);
  if (rest.length === 0) return named;
  return `${named} and ${fmt.format(rest.reduce((sum, t) => sum + t.deletes, 0))} rows of ${rest.length} more table${rest.length === 1 ? '' : 's'}`;
}

/** The one line a refused run ends with: the tables, the counts, and the option that allows it. */
export function guardPhrase(guard: DeleteGuard, target: string): Phrase {
  return phrase`refused: this run would delete ${guardedTables(guard.refused)} in ${target}, more than the ${percent(guard.maxDeleteShare)} ${optionNamed('maxDeleteShare')} allows; nothing was changed — check the direction and the source, or raise ${optionNamed('maxDeleteShare')} to allow it`;
}

export function guardError(guard: DeleteGuard, target: string): ValidationError {
  return new ValidationError(guardPhrase(guard, target), {
    failure: 'delete-guard', table: guard.refused[0]?.table, details: { reason: 'delete-guard', maxDeleteShare: guard.maxDeleteShare, refused: guard.refused },
  });
}
