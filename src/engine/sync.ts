// sync() and plan(): the same run, to its commit or stopped before its first write.

import type { PlanOptions, SyncOptions, SyncPlan, SyncResult } from '../types.js';
import { asSyncError } from './failure.js';
import { resolveOptions } from './options.js';
import { Run } from './run.js';

/** Copies the selected tables from source to target in one atomic step. Resolves when committed. */
export async function sync(options: SyncOptions): Promise<SyncResult> {
  try {
    const outcome = await new Run(resolveOptions(options), 'commit').execute();
    if (outcome.stoppedAt !== 'commit') throw new Error(`a sync stopped at ${outcome.stoppedAt}`);
    return outcome.result;
  } catch (error) {
    throw asSyncError(error, { step: 'sync', signal: options.signal });
  }
}

/**
 * The plan a sync would follow (order, counts, columns, formats, indexes, sequences, warnings); with `preview`,
 * also every table's decision as the sync's own steps make it (`plan.preview`). Changes nothing, writes no history.
 */
export async function plan(options: PlanOptions): Promise<SyncPlan> {
  try {
    const resolved = resolveOptions({ ...options, mode: options.preview });
    const outcome = await new Run(resolved, options.preview === undefined ? 'plan' : 'preview').execute();
    if (outcome.stoppedAt === 'commit') throw new Error('a plan ran to its commit');
    return outcome.plan;
  } catch (error) {
    throw asSyncError(error, { step: 'planning', signal: options.signal, outcome: 'nothing was changed' });
  }
}
