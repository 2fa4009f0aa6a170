// The target's own edits since the last committed run: summed from the decisions, and the policy that keeps a
// run from overwriting them without anyone having chosen to.

import { optionNamed, phrase, type Phrase } from '../advice.js';
import { ValidationError } from '../errors.js';
import type { TablePreview, TargetEditsSummary } from '../types.js';

/**
 * Sums the tables' edits. A table with rows on the target whose edits the watermark could not tell (none trusted
 * for it, or copied in full without comparing) is `untold`: the run goes on for it under the deletion guard alone.
 */
export function summarizeTargetEdits(tables: readonly TablePreview[], policy: TargetEditsSummary['policy']): TargetEditsSummary {
  const edited = tables.flatMap((t) => {
    const e = t.targetEdits;
    return e && e.inserted + e.updated + e.deleted > 0 ? [{ table: t.table, ...e }] : [];
  });
  return {
    inserted: edited.reduce((s, t) => s + t.inserted, 0),
    updated: edited.reduce((s, t) => s + t.updated, 0),
    deleted: edited.reduce((s, t) => s + t.deleted, 0),
    tables: edited,
    untold: tables.filter((t) => t.targetEdits === undefined && t.targetRows > 0).map((t) => t.table),
    policy,
  };
}

export function editCount(summary: TargetEditsSummary): number {
  return summary.inserted + summary.updated + summary.deleted;
}

const fmt = new Intl.NumberFormat('en-US');

/** `archon_sources: 1 inserted, 2 updated (source_id=a, source_id=b)`, per table, joined with `; `. */
export function describeTargetEdits(summary: TargetEditsSummary): string {
  return summary.tables.map((t) => {
    const parts = ([['inserted', t.inserted], ['updated', t.updated], ['deleted', t.deleted]] as const)
      .filter(([, n]) => n > 0).map(([kind, n]) => `${fmt.format(n)} ${kind}`);
    const shown = t.keys.length > 0 ? ` (${t.keys.join(' | ')}${t.inserted + t.updated + t.deleted > t.keys.length ? ' | …' : ''})` : '';
    return `${t.table}: ${parts.join(', ')}${shown}`;
  }).join('; ');
}

/** The refusal when nobody chose: the edits, their first keys, and the option that overwrites them. */
export function targetEditsPhrase(summary: TargetEditsSummary, target: string): Phrase {
  return phrase`refused: ${target} has ${fmt.format(editCount(summary))} row${editCount(summary) === 1 ? '' : 's'} of its own written since the last sync that this run would overwrite — ${describeTargetEdits(summary)}; nothing was changed — sync the other way first to keep them, or set ${optionNamed('targetChanges')} to overwrite them`;
}

export function targetEditsError(summary: TargetEditsSummary, target: string): ValidationError {
  return new ValidationError(targetEditsPhrase(summary, target), {
    failure: 'target-edits', table: summary.tables[0]?.table, details: { reason: 'target-edits', targetEdits: summary },
  });
}

/** The warning where edits cannot be told apart. */
export function untoldPhrase(summary: TargetEditsSummary): string {
  return `the target's own edits since the last sync cannot be told apart from the source's in ${summary.untold.join(', ')} (no watermark is trusted for them, or they are copied in full); the deletion guard still applies`;
}
