// The index-rebuild step: each table's secondary indexes in one message, with live progress read beside it.

import { optionNamed, phrase, type Phrase } from '../advice.js';
import type { IndexInfo } from '../pg/catalog.js';
import { createIndexes } from '../pg/index-builds.js';
import { IndexProgressMonitor } from '../pg/index-progress.js';
import type { Session } from './connections.js';
import type { ResolvedOptions } from './options.js';
import type { Sidecar } from './sidecar.js';
import type { ProgressTracker } from './progress-tracker.js';
import { throwIfAborted } from './refusals.js';
import type { TableLoad } from './table-load.js';

export interface RebuildContext {
  session: Session;
  /** The target's sidecar, which the progress monitor reads on. */
  sidecar: Sidecar;
  options: ResolvedOptions;
  tracker: ProgressTracker;
  warn: (message: Phrase) => void;
  /** The table being worked on (schema-qualified), or undefined once done: for the error a failure becomes. */
  onTable: (qualified: string | undefined) => void;
}

/**
 * Builds each table's indexes in one message. Their progress comes from pg_stat_progress_create_index, read on the
 * target's sidecar; the builder announces which index of the batch it is on (application_name), so the
 * live display and the history row can say which index builds and how far it is.
 */
export async function rebuildIndexes(loads: readonly TableLoad[], context: RebuildContext): Promise<void> {
  const { session, sidecar, options, tracker } = context;
  const work = loads.filter((load) => load.indexesToBuild().length > 0);
  if (work.length === 0) return;
  let batch: IndexInfo[] = [];
  let table = '';
  let current = -1;
  let currentStarted = 0;
  // Marks the builds before `position` done and starts the one at it (or none past the batch's end).
  const advanceTo = (position: number, at = Date.now()) => {
    while (current < Math.min(position, batch.length)) {
      const done = batch[current];
      if (done) tracker.indexBuilt(table, done.name, (at - currentStarted) / 1000);
      current += 1;
      const next = batch[current];
      if (next && current <= position) {
        // A build first seen in a monitor reading started no later than that reading was taken.
        currentStarted = at;
        tracker.indexStarted(table, next.name, at);
      }
    }
  };
  const monitor = IndexProgressMonitor.start(
    async () => {
      const client = await sidecar.connection();
      if (!client) throw new Error('the target has no sidecar connection');
      return client;
    },
    session.targetPid,
    (sample) => {
      if (sample.position !== undefined && sample.table === table && sample.position > current) advanceTo(sample.position, sample.sampledAt);
      tracker.indexProgress(sample);
    },
    { shared: true },
  );
  try {
    for (const load of work) {
      throwIfAborted(options.signal);
      batch = load.indexesToBuild();
      table = load.table.name;
      current = -1;
      advanceTo(0);
      context.onTable(`${load.table.schema}.${load.table.name}`);
      const { serialFallback, outgrewMemory } = await createIndexes(session.target, batch, options.maxParallelMaintenanceWorkers);
      advanceTo(batch.length);
      if (serialFallback) {
        context.warn(phrase`building the indexes of ${load.table.name} with parallel workers ran out of shared memory on the target (a container's /dev/shm, 64 MB by default); ${
          ''}built them without workers instead: give the container a larger shm_size (e.g. 1g) or set ${optionNamed('maxParallelMaintenanceWorkers')} to 0`);
      }
      if (outgrewMemory) {
        const hnsw = batch.filter((i) => i.method === 'hnsw').map((i) => i.name).join(', ') || load.table.name;
        context.warn(phrase`${hnsw}: ${outgrewMemory}, so the rest of its build was several times slower; next time raise ${optionNamed('maintenanceWorkMem')} ${
          ''}(now ${options.maintenanceWorkMem}) if the target has the memory (about 7 kB per 1536-dimension row)`);
      }
    }
  } finally {
    await monitor.stop();
  }
  context.onTable(undefined);
}
