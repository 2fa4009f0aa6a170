// The runs a database's archon_sync_history holds, as tests read them (as the superuser, whatever the owner may see).

import type { TestServer } from './servers.js';

/** Every run recorded in a database, oldest first. */
export async function historyRows(server: TestServer, database: string): Promise<Record<string, unknown>[]> {
  return server.admin(database, async (client) => (await client.query(
    `SELECT sync_id, status, direction, percent_complete, synced_rows, total_rows, triggered_by, source_db, target_db, error_message,
            tables_synced, verification_results, error_details, metadata
       FROM archon_sync_history ORDER BY started_at, sync_id`)).rows as Record<string, unknown>[]);
}
