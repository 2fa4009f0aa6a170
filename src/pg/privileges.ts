// What the target lets this role do, read in the message that inspects the target (no round trip of its own):
// whether its transaction may write at all, CREATE on the schema, per table the privileges a load uses, and
// ownership of the sequences and outside tables a run may alter.

import { quoteLiteral } from './quote.js';

export interface PrivilegeQuestions {
  schema: string;
  /** Quoted tables of the plan. */
  tables: readonly string[];
  /** Quoted sequences the plan's tables use. */
  sequences: readonly string[];
  /** Quoted outside tables whose foreign keys into ours a full copy sets aside. */
  outside: readonly string[];
}

export interface Privileges {
  /** The transaction is read-only: default_transaction_read_only for this role or database. */
  readOnly: boolean;
  /** The server is a hot standby. */
  standby: boolean;
  createOnSchema: boolean;
  /** Per table: the privileges among SELECT, INSERT, DELETE, TRUNCATE this role lacks. */
  missing: string[][];
  /** Per sequence: owned by this role (or a role it is a member of). */
  sequenceOwned: boolean[];
  /** Per outside table: owned by this role. */
  outsideOwned: boolean[];
}

const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'DELETE', 'TRUNCATE'];

const owned = (relation: string) => `coalesce(pg_has_role((SELECT relowner FROM pg_class WHERE oid = to_regclass(${quoteLiteral(relation)})), 'USAGE'), true)`;

/** The select-list columns that answer `questions` (prefixed `p_`), for the target facts statement. */
export function privilegeColumns(questions: PrivilegeQuestions): string[] {
  return [
    `current_setting('transaction_read_only') = 'on' AS p_ro`,
    'pg_is_in_recovery() AS p_standby',
    `has_schema_privilege(${quoteLiteral(questions.schema)}, 'CREATE') AS p_create`,
    ...questions.tables.map((table, i) => `array_remove(ARRAY[${TABLE_PRIVILEGES.map((p) =>
      `CASE WHEN has_table_privilege(${quoteLiteral(table)}, '${p}') THEN NULL ELSE '${p}' END`).join(', ')}], NULL) AS p_t${i}`),
    ...questions.sequences.map((sequence, i) => `${owned(sequence)} AS p_s${i}`),
    ...questions.outside.map((table, i) => `${owned(table)} AS p_o${i}`),
  ];
}

export function readPrivileges(row: Record<string, unknown>, questions: PrivilegeQuestions): Privileges {
  return {
    readOnly: row.p_ro === true,
    standby: row.p_standby === true,
    createOnSchema: row.p_create !== false,
    missing: questions.tables.map((_, i) => (Array.isArray(row[`p_t${i}`]) ? row[`p_t${i}`] as string[] : [])),
    sequenceOwned: questions.sequences.map((_, i) => row[`p_s${i}`] !== false),
    outsideOwned: questions.outside.map((_, i) => row[`p_o${i}`] !== false),
  };
}
