// What the target holds before anything is written (rows per table, rows of outside tables that reference ours),
// read in the same message that tries the replica role: one round trip.

import type pg from 'pg';
import { runBatch } from './batch.js';
import type { ForeignKeyInfo } from './catalog.js';
import { privilegeColumns, readPrivileges, type PrivilegeQuestions, type Privileges } from './privileges.js';
import { quoteIdent, quoteTable } from './quote.js';

/** What to ask about the target's tables, decided once whether the replica role was granted is known. */
export interface TargetQuestions {
  /** Quoted tables whose rows to count. */
  count: readonly string[];
  /** Quoted tables for which it is enough to know whether they have a row (their rows are compared anyway). */
  exists: readonly string[];
  /** Foreign keys from outside tables: does any row reference (non-NULL key) our tables through them? */
  references: readonly ForeignKeyInfo[];
  /** What this role may do there (src/pg/privileges.ts). */
  privileges?: PrivilegeQuestions | undefined;
}

export interface TargetFacts {
  /** `SET LOCAL session_replication_role = replica` was allowed: user triggers and FK triggers stay silent. */
  replicaRole: boolean;
  /** Per `count` table: its rows. */
  counts: number[];
  /** Per `exists` table: whether it has a row. */
  exists: boolean[];
  /** Per reference: whether a row uses it. */
  referenced: boolean[];
  privileges: Privileges | undefined;
}

function factsQuery(questions: TargetQuestions): string | undefined {
  const columns = [
    ...questions.count.map((table, i) => `(SELECT count(*) FROM ONLY ${table}) AS c${i}`),
    ...questions.exists.map((table, i) => `EXISTS (SELECT 1 FROM ONLY ${table}) AS e${i}`),
    ...questions.references.map((fk, i) => `EXISTS (SELECT 1 FROM ONLY ${quoteTable(fk.schema, fk.table)} WHERE ${fk.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')}) AS r${i}`),
    ...(questions.privileges ? privilegeColumns(questions.privileges) : []),
  ];
  return columns.length === 0 ? undefined : `SELECT ${columns.join(', ')}`;
}

function readFacts(row: Record<string, unknown> | undefined, questions: TargetQuestions, replicaRole: boolean): TargetFacts {
  const values = row ?? {};
  return {
    replicaRole,
    counts: questions.count.map((_, i) => Number(values[`c${i}`] ?? 0)),
    exists: questions.exists.map((_, i) => values[`e${i}`] === true),
    referenced: questions.references.map((_, i) => values[`r${i}`] === true),
    privileges: questions.privileges ? readPrivileges(values, questions.privileges) : undefined,
  };
}

const REPLICA_ROLE = ['SAVEPOINT archon_sync_replica_role', 'SET LOCAL session_replication_role = replica', 'RELEASE SAVEPOINT archon_sync_replica_role'];
const UNDO_REPLICA_ROLE = ['ROLLBACK TO SAVEPOINT archon_sync_replica_role', 'RELEASE SAVEPOINT archon_sync_replica_role'];

/**
 * Tries `SET LOCAL session_replication_role = replica` when `tryReplicaRole` (the SQL statement: Supabase's
 * supautils allows it for `postgres`, while set_config() is refused) and asks `questions(granted)` of the target in
 * the same message. When the role may not (42501), the transaction is put back and the questions asked again,
 * since what is worth asking depends on the answer.
 */
export async function inspectTarget(client: pg.ClientBase, tryReplicaRole: boolean, questions: (replicaRole: boolean) => TargetQuestions): Promise<TargetFacts> {
  const ask = async (prefix: readonly string[], replicaRole: boolean) => {
    const asked = questions(replicaRole);
    const query = factsQuery(asked);
    const results = await runBatch(client, [...prefix, ...(query ? [query] : [])]);
    return readFacts(query ? results.at(-1)?.rows[0] as Record<string, unknown> | undefined : undefined, asked, replicaRole);
  };
  if (!tryReplicaRole) return ask([], false);
  try {
    return await ask(REPLICA_ROLE, true);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    return ask(UNDO_REPLICA_ROLE, false);
  }
}
