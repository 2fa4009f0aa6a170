// Rebuilding a table's secondary indexes in one message, with what pg_get_indexdef() leaves out put back.

import type pg from 'pg';
import { runBatch } from './batch.js';
import type { IndexInfo } from './catalog.js';
import { BUILDING_MARK } from './index-progress.js';
import { quoteIdent, quoteLiteral, quoteTable, sqlCount } from './quote.js';
import { causeOfServerError, isHnswOutgrewMemory } from './server-errors.js';

/** CREATE INDEX and what pg_get_indexdef() leaves out: tablespace, comment, statistics targets, CLUSTER and REPLICA IDENTITY marks. */
export function createIndexStatements(index: IndexInfo, position = 0): string[] {
  const table = quoteTable(index.schema, index.table);
  const name = quoteTable(index.schema, index.name);
  return [
    // Names the build for the progress monitor (pg_stat_progress_create_index cannot name an uncommitted index).
    `SET LOCAL application_name = ${quoteLiteral(`${BUILDING_MARK}${position}`)}`,
    ...(index.tablespace ? [`SET LOCAL default_tablespace = ${quoteLiteral(index.tablespace)}`] : []),
    index.definition,
    ...(index.tablespace ? [`SET LOCAL default_tablespace = ''`] : []),
    ...(index.comment !== null ? [`COMMENT ON INDEX ${name} IS ${quoteLiteral(index.comment)}`] : []),
    ...index.statistics.map((s) => `ALTER INDEX ${name} ALTER COLUMN ${s.column} SET STATISTICS ${s.target}`),
    ...(index.clustered ? [`ALTER TABLE ${table} CLUSTER ON ${quoteIdent(index.name)}`] : []),
    ...(index.replicaIdentity ? [`ALTER TABLE ${table} REPLICA IDENTITY USING INDEX ${quoteIdent(index.name)}`] : []),
  ];
}

export interface IndexBuildReport {
  /** The parallel build ran out of shared memory and the indexes were built again without workers. */
  serialFallback: boolean;
  /** pgvector's notice that an HNSW graph outgrew maintenance_work_mem (the rest of the build is far slower). */
  outgrewMemory: string | undefined;
}

/**
 * Builds a table's indexes in one message inside a savepoint. A parallel build (pgvector's HNSW above all)
 * puts its working area, up to maintenance_work_mem, in dynamic shared memory: files in /dev/shm, which Docker
 * caps at 64 MB unless the container sets shm_size. Postgres then fails with "could not resize shared memory
 * segment … No space left on device" (SQLSTATE 53100, as if the disk were full). A serial build needs no shared
 * memory, so the batch is rolled back to the savepoint and built again without workers.
 */
export async function createIndexes(client: pg.ClientBase, indexes: readonly IndexInfo[], workers: number): Promise<IndexBuildReport> {
  if (indexes.length === 0) return { serialFallback: false, outgrewMemory: undefined };
  let outgrewMemory: string | undefined;
  const onNotice = (notice: { message?: string | undefined; file?: string | undefined }) => {
    if (isHnswOutgrewMemory(notice)) outgrewMemory = notice.message;
  };
  const builds = [...indexes.flatMap((index, position) => createIndexStatements(index, position)), 'SET LOCAL application_name = DEFAULT'];
  client.on('notice', onNotice);
  try {
    try {
      await runBatch(client, ['SAVEPOINT archon_sync_index', ...builds, 'RELEASE SAVEPOINT archon_sync_index']);
      return { serialFallback: false, outgrewMemory };
    } catch (error) {
      if (causeOfServerError(error) !== 'shared-memory') throw error;
      await runBatch(client, ['ROLLBACK TO SAVEPOINT archon_sync_index', 'RELEASE SAVEPOINT archon_sync_index']);
    }
    await runBatch(client, [
      'SET LOCAL max_parallel_maintenance_workers = 0',
      ...builds,
      `SET LOCAL max_parallel_maintenance_workers = ${sqlCount(workers)}`,
    ]);
    return { serialFallback: true, outgrewMemory };
  } finally {
    client.off('notice', onNotice);
  }
}
