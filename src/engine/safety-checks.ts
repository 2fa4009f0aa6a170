// What a sync checks between deciding its loads and asking for confirmation: the refusals that must come before
// any write, whoever runs it (a terminal, cron, a library caller), each in one line that names what allows it.

import { ValidationError } from '../errors.js';
import type { PreviewedPlan } from '../types.js';
import { cannotKeepPhrase } from './backup/run-backup.js';
import { guardError } from './delete-guard.js';
import type { ResolvedOptions } from './options.js';
import { editCount, targetEditsError } from './target-edits.js';

/**
 * Throws the first refusal that applies: the deletion guard; a backup that cannot be kept where the options
 * say to refuse then; the target's own edits where nobody is asked (`targetChanges: 'refuse'`).
 */
export function refuseUnsafe(plan: PreviewedPlan, options: ResolvedOptions): void {
  const { preview } = plan;
  const target = `the target ${options.targetEndpoint.label}`;
  if (preview.guard.refused.length > 0) throw guardError(preview.guard, target);
  const backup = preview.backup;
  if (backup && !backup.fits && options.backup.enabled && options.backup.ifCannotKeep === 'refuse') {
    throw new ValidationError(cannotKeepPhrase(backup.reason ?? 'too large', backup.bytes > backup.limitBytes ? 'size' : 'write', backup), {
      failure: 'cannot-keep-backup', details: { reason: 'cannot-keep-backup', estimate: backup },
    });
  }
  if (editCount(preview.targetEdits) > 0 && options.targetChanges === 'refuse') throw targetEditsError(preview.targetEdits, target);
}
