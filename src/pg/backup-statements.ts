// SQL for keeping a run's old rows and putting them back: what the target holds, streamed out and in again, and
// what was written to its tables since a run.

import type pg from 'pg';
import { changedSinceSql, MAX_MARK_AGE, snapshotBounds, type ServerIdentity } from './change-marks.js';
import { HISTORY_TABLE, historyTableExists } from './history-statements.js';
import { dollarQuotedBlock, quoteColumns, quoteIdent, quoteLiteral } from './quote.js';
import type { KeysRelation } from './multi-diff.js';

/** One target table as a backup needs it, read in the run's transaction. */
export interface BackupTableFacts {
  /** Quoted, schema-qualified name, as given. */
  sql: string;
  /** Every non-generated column, target-only ones included, in column order: what a restore writes back. */
  columns: string[];
  /** Whether every such column's type has binary send and receive functions (else the table travels as text). */
  binary: boolean;
  /** pg_table_size (heap and TOAST): what keeping the whole table costs, roughly. */
  bytes: number;
  /** tableDefinitionSql's md5 of the table's columns, constraints, indexes and triggers. */
  definition: string;
}

/**
 * An md5 of table `c`'s definition: columns (name, type, NOT NULL, default, generated, identity), constraints,
 * indexes and triggers (with their enabled state), as the catalog renders them. A sync drops and rebuilds indexes,
 * sets triggers and foreign keys aside and puts them back exactly, so it leaves this unchanged; an ALTER TABLE,
 * CREATE INDEX or new trigger since changes it. (Their catalog rows' transaction ids cannot tell: a sync writes
 * some of them inside savepoints, whose ids are its own but not its transaction's.)
 */
const TABLE_DEFINITION_SQL = `md5(concat_ws(E'\\n',
    (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated, a.attidentity,
                                 pg_get_expr(d.adbin, d.adrelid)), E'\\n' ORDER BY a.attnum)
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), E'\\n' ORDER BY k.conname) FROM pg_constraint k WHERE k.conrelid = c.oid),
    (SELECT string_agg(pg_get_indexdef(i.indexrelid), E'\\n' ORDER BY i.indexrelid::regclass::text) FROM pg_index i WHERE i.indrelid = c.oid),
    (SELECT string_agg(pg_get_triggerdef(g.oid) || ' ' || g.tgenabled::text, E'\\n' ORDER BY g.tgname) FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal)))`;

/** Non-generated columns, binary capability, size and definition of each table, in one statement, in `tables` order. */
export async function readBackupTableFacts(client: pg.ClientBase, tables: readonly string[]): Promise<BackupTableFacts[]> {
  if (tables.length === 0) return [];
  const result = await client.query<{ sql: string; columns: string[]; binary: boolean; bytes: string; definition: string }>(
    `SELECT t.sql, pg_table_size(c.oid)::text AS bytes, ${TABLE_DEFINITION_SQL} AS definition,
            array(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum) AS columns,
            NOT EXISTS (SELECT 1 FROM pg_attribute a
                          JOIN pg_type ty ON ty.oid = a.atttypid
                          LEFT JOIN pg_type bt ON ty.typtype = 'd' AND bt.oid = ty.typbasetype
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                           AND (coalesce(bt.typsend, ty.typsend) = 0 OR coalesce(bt.typreceive, ty.typreceive) = 0)) AS binary
       FROM unnest($1::text[]) WITH ORDINALITY t(sql, ord)
       JOIN pg_class c ON c.oid = t.sql::regclass
      ORDER BY t.ord`,
    [tables],
  );
  return result.rows.map((r) => ({
    sql: r.sql, columns: r.columns, binary: r.binary, bytes: Number(r.bytes), definition: r.definition,
  }));
}

/** A sequence's state, exactly: what nextval() hands out next follows from it. */
export interface SequenceState {
  /** Quoted, schema-qualified sequence name. */
  sequence: string;
  /** bigint as text. */
  lastValue: string;
  isCalled: boolean;
}

/** The state of each sequence, in one statement (reading a sequence's row takes no lock and writes nothing). */
export async function readSequenceStates(client: pg.ClientBase, sequences: readonly string[]): Promise<SequenceState[]> {
  if (sequences.length === 0) return [];
  const selects = sequences.map((s, i) => `SELECT ${i} AS i, last_value::text AS last_value, is_called FROM ${s}`);
  const result = await client.query<{ i: number; last_value: string; is_called: boolean }>(`${selects.join(' UNION ALL ')} ORDER BY 1`);
  return result.rows.map((r) => ({ sequence: sequences[r.i] ?? '', lastValue: r.last_value, isCalled: r.is_called }));
}

/**
 * Puts sequences back exactly (last_value and is_called). ALTER SEQUENCE … RESTART gives the sequence new storage
 * in this transaction, and the setval() after it writes there: a rollback drops both, while setval() alone would
 * survive one.
 */
export function restoreSequenceStatements(states: readonly SequenceState[]): string[] {
  return states.flatMap((s) => [
    `ALTER SEQUENCE ${s.sequence} RESTART`,
    `SELECT pg_catalog.setval(${quoteLiteral(s.sequence)}::regclass, ${BigInt(s.lastValue).toString()}, ${s.isCalled ? 'true' : 'false'})`,
  ]);
}

/**
 * Moves each sequence past the ids its column holds, when it is behind them (never back): after a forced undo
 * kept rows written since the run, the restored position could hand their ids out again.
 */
export function sequencesPastRowsStatement(sequences: readonly { sequence: string; table: string; column: string; increment: number }[]): string[] {
  if (sequences.length === 0) return [];
  const steps = sequences.map(({ sequence, table, column, increment }) => {
    const up = increment >= 0;
    return `
  SELECT (SELECT ${up ? 'max' : 'min'}(${quoteIdent(column)}) FROM ONLY ${table})::bigint + ${increment} INTO wanted;
  SELECT CASE WHEN is_called THEN last_value + ${increment} ELSE last_value END INTO next_value FROM ${sequence};
  IF wanted ${up ? '>' : '<'} next_value THEN
    EXECUTE ${quoteLiteral(`ALTER SEQUENCE ${sequence} RESTART WITH `)} || wanted::text;
  END IF;`;
  });
  return [dollarQuotedBlock(`\nDECLARE wanted bigint; next_value bigint;\nBEGIN${steps.join('')}\nEND\n`)];
}

/** Who the target database is, and the caller's snapshot; `system` and `timeline` are null where the role may not read them. */
export interface TargetIdentity {
  system: string | null;
  timeline: number | null;
  /** The database's oid. */
  database: string;
  /** current_database(). */
  name: string;
  /** txid_current_snapshot() of the caller's transaction, as text (64-bit ids). */
  snapshot: string;
}

/** Whether pg_control_system() and pg_control_checkpoint() may be called (a call without the right would end the transaction). */
export async function identityReadable(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ readable: boolean }>(
    `SELECT has_function_privilege('pg_control_system()', 'EXECUTE') AND has_function_privilege('pg_control_checkpoint()', 'EXECUTE') AS readable`,
  );
  return result.rows[0]?.readable === true;
}

/** The target's identity and snapshot in one statement; ask for the system identifier only where `readable`. */
export async function readTargetIdentity(client: pg.ClientBase, readable: boolean): Promise<TargetIdentity> {
  const system = readable
    ? `(SELECT system_identifier::text FROM pg_catalog.pg_control_system()) AS system, (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()) AS timeline`
    : 'NULL::text AS system, NULL::int AS timeline';
  const result = await client.query<{ system: string | null; timeline: number | null; database: string; name: string; snapshot: string }>(
    `SELECT ${system}, (SELECT oid::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS database,
            pg_catalog.current_database() AS name, pg_catalog.txid_current_snapshot()::text AS snapshot`,
  );
  const row = result.rows[0];
  if (!row) throw new Error('reading the target identity returned no row');
  return { system: row.system, timeline: row.timeline === null ? null : Number(row.timeline), database: row.database, name: row.name, snapshot: row.snapshot };
}

export function sameIdentity(a: Pick<ServerIdentity, 'system' | 'database'>, b: Pick<ServerIdentity, 'system' | 'database'>): boolean {
  return a.system === b.system && a.database === b.database;
}

/** `COPY … TO STDOUT` of every row of a table, all the given columns. */
export function copyWholeTableOut(table: string, columns: readonly string[], format: 'binary' | 'text'): string {
  return `COPY ${table} (${quoteColumns(columns)}) TO STDOUT (FORMAT ${format})`;
}

/** `COPY … TO STDOUT` of the rows a diff will delete or overwrite: the old versions of changed rows and the target-only rows. */
export function copyReplacedRowsOut(table: string, columns: readonly string[], format: 'binary' | 'text', keys: KeysRelation): string {
  const match = keys.key.map((k, i) => `r.${quoteIdent(k)} = d.${keys.slots[i] ?? ''}`).join(' AND ');
  return `COPY (SELECT ${columns.map((c) => `r.${quoteIdent(c)}`).join(', ')} FROM ONLY ${table} r JOIN ${keys.diff} d ON ${match} WHERE d.change <> 'i') TO STDOUT (FORMAT ${format})`;
}

/** `COPY … TO STDOUT` of every key a diff names (inserted, overwritten or deleted): what an undo removes before putting rows back. */
export function copyDiffKeysOut(keys: KeysRelation, format: 'binary' | 'text'): string {
  return `COPY (SELECT ${keys.slots.map((s) => `d.${s}`).join(', ')} FROM ${keys.diff} d) TO STDOUT (FORMAT ${format})`;
}

/** `COPY … FROM STDIN` putting saved rows back; FREEZE only into a table emptied by TRUNCATE in this transaction. */
export function copyRowsIn(table: string, columns: readonly string[], format: 'binary' | 'text', freeze: boolean): string {
  return `COPY ${table} (${quoteColumns(columns)}) FROM STDIN (FORMAT ${format}${freeze ? ', FREEZE' : ''})`;
}

/** The temporary table an undo loads a table's saved keys into (typed as the table's own key columns), and what fills it. */
export function savedKeysTable(table: string, key: readonly string[], position: number, format: 'binary' | 'text'): { create: string; copyIn: string; name: string } {
  const name = `pg_temp.${quoteIdent(`archon_sync_undo_keys_${position}`)}`;
  return {
    name,
    create: `CREATE TEMP TABLE ${name} ON COMMIT DROP AS SELECT ${key.map((k) => `r.${quoteIdent(k)}`).join(', ')} FROM ONLY ${table} r WITH NO DATA`,
    copyIn: `COPY ${name} (${quoteColumns(key)}) FROM STDIN (FORMAT ${format})`,
  };
}

/** Deletes the rows whose keys an undo loaded into `keysTable`; resolves with how many went. */
export async function deleteSavedKeys(client: pg.ClientBase, table: string, key: readonly string[], keysTable: string): Promise<number> {
  const match = key.map((k) => `r.${quoteIdent(k)} = k.${quoteIdent(k)}`).join(' AND ');
  const result = await client.query(`DELETE FROM ONLY ${table} r USING ${keysTable} k WHERE ${match}`);
  return result.rowCount ?? 0;
}

/** What may have been written to a table since a run: its rows, by transaction id. */
export interface WrittenSince {
  /** Rows now. */
  rows: number;
  /** Rows whose version was written by a transaction that had not committed when the run took its snapshot. */
  writtenRows: number;
}

/** Where a run stood: its own transaction and the snapshot it took after locking its tables. */
export interface RunMark {
  /** 64-bit transaction id, as text. */
  xid: string;
  /** txid_current_snapshot() text taken inside the run, after its locks. */
  snapshot: string;
}

/**
 * A boolean SQL expression over `alias` (a row with xmin): true when the row's version was written by anything
 * but the run that had not committed when the run took `mark.snapshot`: an id at or past its xmax, or one it saw
 * running. Rows those running transactions wrote before the run's locks cannot exist (they would have held the
 * lock the run waited for). The run writes rows in its top transaction, never in a savepoint, so its own rows
 * carry `mark.xid`. Throws when the ids are too far apart to compare.
 */
export function writtenSinceSql(alias: string, mark: RunMark, now: bigint): string {
  const { xmax } = snapshotBounds(mark.snapshot);
  const own = BigInt(mark.xid);
  const running = (mark.snapshot.split(':')[2] ?? '').split(',').filter((x) => /^\d+$/.test(x)).map(BigInt).filter((x) => x !== own);
  const after = changedSinceSql(alias, { now, since: xmax, ownXid: own });
  if (running.length === 0) return after;
  const ids = running.map((x) => (x % 2n ** 32n).toString()).join(', ');
  return `(${after} OR ${alias}.xmin::text::int8 IN (${ids}))`;
}

/** Whether `mark` is recent enough for writtenSinceSql against a snapshot whose xmax is `now`. */
export function markComparable(mark: RunMark, now: bigint): boolean {
  try {
    const { xmax } = snapshotBounds(mark.snapshot);
    return xmax <= now && now - xmax < MAX_MARK_AGE;
  } catch {
    return false;
  }
}

/** The current snapshot's xmax (the next transaction id), 64-bit. */
export async function currentXmax(client: pg.ClientBase): Promise<bigint> {
  const result = await client.query<{ xmax: string }>('SELECT pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS xmax');
  return BigInt(result.rows[0]?.xmax ?? '0');
}

/** Per table, rows now and the rows written since `mark`, in one statement. */
export async function readWrittenSince(client: pg.ClientBase, tables: readonly string[], mark: RunMark, now: bigint): Promise<WrittenSince[]> {
  if (tables.length === 0) return [];
  const columns = tables.map((t, i) => `(SELECT count(*) FROM ONLY ${t})::int8 AS n${i}, (SELECT count(*) FROM ONLY ${t} r WHERE ${writtenSinceSql('r', mark, now)})::int8 AS w${i}`);
  const result = await client.query<Record<string, string>>(`SELECT ${columns.join(',\n')}`);
  const row = result.rows[0] ?? {};
  return tables.map((_, i) => ({ rows: Number(row[`n${i}`] ?? 0), writtenRows: Number(row[`w${i}`] ?? 0) }));
}

export type TransactionOutcome = 'committed' | 'aborted' | 'in progress' | 'unknown';

/**
 * txid_status() of each 64-bit id, in one statement. Ids that are not numbers, from the future or too old to
 * tell come back `unknown` instead of failing the caller's transaction.
 */
export async function transactionOutcomes(client: pg.ClientBase, xids: readonly string[]): Promise<TransactionOutcome[]> {
  if (xids.length === 0) return [];
  const result = await client.query<{ status: string | null }>(
    `SELECT CASE WHEN x ~ '^[0-9]{1,18}$'
                 THEN CASE WHEN x::int8 < pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())
                           THEN pg_catalog.txid_status(x::int8) END END AS status
       FROM unnest($1::text[]) WITH ORDINALITY u(x, ord) ORDER BY ord`,
    [xids],
  );
  return result.rows.map((r) => (r.status === 'committed' || r.status === 'aborted' || r.status === 'in progress' ? r.status : 'unknown'));
}

/** archon-sync runs recorded in the target after transaction `xid` committed (64-bit ids), oldest first. */
export async function laterRecordedRuns(client: pg.ClientBase, xid: string): Promise<{ syncId: string; xid: string; undoOf: string | null }[]> {
  const result = await client.query<{ sync_id: string; xid: string; undo_of: string | null }>(
    `SELECT sync_id, metadata->>'target_xid' AS xid, metadata->>'undo_of' AS undo_of FROM ${HISTORY_TABLE}
      WHERE metadata->>'tool' = 'archon-sync' AND metadata->>'target_xid' ~ '^[0-9]{1,18}$'
        AND (metadata->>'target_xid')::int8 > $1::int8
        -- A run that changed no row (every table compared equal) is no change to the run being undone.
        AND metadata->>'changed_nothing' IS DISTINCT FROM 'true'
      ORDER BY (metadata->>'target_xid')::int8`,
    [xid],
  );
  return result.rows.map((r) => ({ syncId: r.sync_id, xid: r.xid, undoOf: r.undo_of }));
}

/** Notes on a run's history row that an undo put its tables back (in the undo's own transaction). */
export async function markRunUndone(client: pg.ClientBase, syncId: string, undoId: string): Promise<void> {
  await client.query(
    `UPDATE ${HISTORY_TABLE} SET metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('undone_by', $2::text), updated_at = now() WHERE sync_id = $1`,
    [syncId, undoId],
  );
}

/** The status a run's history row holds, if the table and the row exist. */
export async function recordedStatus(client: pg.ClientBase, syncId: string): Promise<{ status: string; error: string | null } | undefined> {
  if (!(await historyTableExists(client))) return undefined;
  const row = await client.query<{ status: string; error_message: string | null }>(`SELECT status, error_message FROM ${HISTORY_TABLE} WHERE sync_id = $1`, [syncId]);
  const first = row.rows[0];
  return first ? { status: first.status, error: first.error_message } : undefined;
}
