// The history commands' engine side: read recent runs, create the table; the CLI only renders.

import { readFileSync } from 'node:fs';
import { INIT_HISTORY, phrase } from '../advice.js';
import { ConfigurationError } from '../errors.js';
import { connect, describeEndpoint } from '../pg/connect.js';
import { historyTableExists, readHistory } from '../pg/history-statements.js';
import type { HistoryQuery, HistoryRow } from '../types.js';
import { undoMarks } from './backup/undoable.js';
import { resolveBackupDir, resolveConnectTimeout } from './options.js';
import { HISTORY_TABLE } from './tables.js';


async function withConnection<T>(uri: string, connectTimeoutMs: number | undefined, work: (client: import('pg').Client) => Promise<T>): Promise<T> {
  const client = await connect(uri, { side: 'history', connectTimeoutMs: resolveConnectTimeout(connectTimeoutMs), applicationName: 'archon-sync-history' });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The most recent runs recorded in a database, newest first. */
export async function history(query: HistoryQuery): Promise<HistoryRow[]> {
  return withConnection(query.database, query.connectTimeoutMs, async (client) => {
    if (!(await historyTableExists(client))) {
      throw new ConfigurationError(phrase`${describeEndpoint(query.database).label} has no ${HISTORY_TABLE} table; create it with ${INIT_HISTORY}`, { failure: 'no-history-table' });
    }
    const rows = await readHistory(client, query.limit, query.direction);
    const marks = await undoMarks(client, describeEndpoint(query.database).label, resolveBackupDir(query.backupDir), rows);
    return rows.map((row, i) => ({ ...row, ...(marks[i] ?? { undoable: false, undoneBy: null }) }));
  });
}

/** Creates the history table (with Archon's columns) where it is missing; changes nothing where it is already right. */
export async function initHistory(options: { database: string; connectTimeoutMs?: number | undefined }): Promise<void> {
  const ddl = readFileSync(new URL('../../../schema/sync-history.sql', import.meta.url), 'utf8');
  await withConnection(options.database, options.connectTimeoutMs, async (client) => { await client.query(ddl); });
}
