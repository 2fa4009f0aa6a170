// Before any write: every privilege the run's later steps need, checked against what the target said in the
// message that inspected it, so a missing one is named at once instead of failing after the whole copy.

import { ValidationError } from '../errors.js';
import type { PrivilegeQuestions, Privileges } from '../pg/privileges.js';
import { redact } from '../pg/redact.js';
import { causeOfServerError } from '../pg/server-errors.js';
import { quoteTable } from '../pg/quote.js';
import type { SyncPlan } from '../types.js';
import type { TableLoad } from './table-load.js';

/** What to ask the target: the plan's tables, their sequences, and the outside tables that reference them. */
export function privilegeQuestions(plan: SyncPlan): PrivilegeQuestions {
  return {
    schema: plan.schema,
    tables: plan.tables.map((t) => t.sql),
    sequences: [...new Set(plan.tables.flatMap((t) => t.sequences.map((s) => s.sequence)))],
    outside: [...new Set(plan.externalReferences.map((fk) => quoteTable(fk.schema, fk.table)))],
  };
}

/** The transaction cannot write at all: refused before anything else. */
export function refuseReadOnly(privileges: Privileges | undefined, user: string, target: string): void {
  if (privileges?.standby) {
    throw new ValidationError(`the target ${target} is a read-only hot standby (pg_is_in_recovery()); point the target URI at the primary`, { failure: 'permission' });
  }
  if (privileges?.readOnly) {
    throw new ValidationError(`the target ${target} is read-only for role "${user}" (default_transaction_read_only is on for the role or the database); ${
      ''}connect as a role that may write, or turn it off for this role`, { failure: 'permission' });
  }
}

/**
 * The source refused to let the role read a table it was asked to lock (LOCK TABLE … ACCESS SHARE needs SELECT):
 * a source needs nothing more than SELECT, so the advice is that grant, on the source. Other errors pass through.
 */
export function sourceUnreadable(error: unknown, source: string): unknown {
  if (causeOfServerError(error) !== 'permission') return error;
  return new ValidationError(`the source ${source} does not let this role read a table it copies (${redact((error as Error).message)}); ${
    ''}a source needs only SELECT on the Archon tables: grant it there, or connect as their owner; nothing was changed`, { failure: 'permission', cause: error });
}

/**
 * Refuses, naming every missing privilege, when the loads as decided would need one the role lacks: CREATE on the
 * schema where indexes are rebuilt, SELECT/INSERT/DELETE/TRUNCATE per table, ownership of the sequences to advance
 * and of the outside tables whose foreign keys a full copy sets aside.
 */
export function refuseMissingPrivileges(privileges: Privileges | undefined, questions: PrivilegeQuestions, plan: SyncPlan, loads: readonly TableLoad[], user: string): void {
  if (!privileges) return;
  const problems: string[] = [];
  const rebuilds = loads.filter((load) => load.indexesToBuild().length > 0);
  if (rebuilds.length > 0 && !privileges.createOnSchema) {
    problems.push(`role "${user}" lacks CREATE on schema ${plan.schema} on the target, which rebuilding the indexes of ${rebuilds[0]?.table.name}${
      rebuilds.length > 1 ? ` and ${rebuilds.length - 1} more` : ''} needs; GRANT CREATE ON SCHEMA ${plan.schema} TO "${user}"`);
  }
  for (const load of loads.filter((l) => l.changed)) {
    const index = questions.tables.indexOf(load.table.sql);
    const needed = load.mode === 'full' ? ['INSERT', load.truncates ? 'TRUNCATE' : 'DELETE'] : ['SELECT', 'INSERT', 'DELETE'];
    const lacking = needed.filter((p) => privileges.missing[index]?.includes(p));
    if (lacking.length > 0) problems.push(`role "${user}" lacks ${lacking.join(', ')} on ${load.table.schema}.${load.table.name} on the target`);
  }
  const advanced = new Set(loads.filter((l) => l.changed).flatMap((l) => l.table.sequences.map((s) => s.sequence)));
  questions.sequences.forEach((sequence, i) => {
    if (advanced.has(sequence) && privileges.sequenceOwned[i] === false) problems.push(`role "${user}" does not own sequence ${sequence} on the target, which the run must advance past the copied ids; connect as its owner`);
  });
  const full = new Set(loads.filter((l) => l.mode === 'full').map((l) => l.table.name));
  const setAside = new Set(plan.externalReferences.filter((fk) => fk.refSchema === plan.schema && full.has(fk.refTable)).map((fk) => quoteTable(fk.schema, fk.table)));
  questions.outside.forEach((table, i) => {
    if (setAside.has(table) && privileges.outsideOwned[i] === false) problems.push(`role "${user}" does not own ${table} on the target, whose foreign key into a table copied in full must be set aside during the load; connect as its owner`);
  });
  const [first] = problems;
  if (!first) return;
  throw new ValidationError(`${first}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''}; nothing was changed`, {
    failure: 'permission', problems: problems.map((p) => [p]),
  });
}
