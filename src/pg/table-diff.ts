// Incremental sync of one table: source digests staged on the target, the diff computed there, then only changed rows move.

import { createHash } from 'node:crypto';
import type pg from 'pg';
import { CopyError } from '../errors.js';
import { copyQuery, type CopyTableResult } from './copy.js';
import { quoteColumns, quoteDataLiteral, quoteIdent } from './quote.js';
import { rowDigestSql, type DiffTableSpec, type SendFunctions } from './row-digest-sql.js';

/** How many changed keys one COPY of rows asks the source for: one statement of about 40 kB of literals. */
export const DEFAULT_INSERT_BATCH_SIZE = 1000;

/** What the target must change in one table, found without writing to it. */
export interface StagedDiff {
  /** Quoted, schema-qualified table name. */
  table: string;
  /** Rows in the source snapshot (digests streamed). */
  sourceRows: number;
  /** Rows in the target before applying. */
  targetRows: number;
  /** Keys only on the source. */
  inserts: number;
  /** Keys on both sides whose rows differ. */
  updates: number;
  /** Keys only on the target. */
  deletes: number;
  /** Bytes of digests streamed from the source. */
  bytes: number;
  /**
   * Rows the target itself wrote since the last committed run, among the changes above (only with `changedSince`):
   * target-only keys written since (inserted), differing keys the target wrote since (updated), and source-only
   * keys whose source row is unchanged since, so the target deleted them (deleted); `keys` are the first few.
   */
  targetEdits?: TargetEdits | undefined;
}

export interface TargetEdits {
  inserted: number;
  updated: number;
  deleted: number;
  /** The first few, in key order, as `column=value` (joined with `, ` for a composite key). */
  keys: string[];
}

export interface StageDiffOptions {
  /** Each side's send functions (readSendFunctions on that side): the digest is built from them. */
  sendFunctions: { source: SendFunctions; target: SendFunctions };
  signal?: AbortSignal | undefined;
  /** Digests streamed so far, as copyQuery reports them. */
  onRows?: ((rows: number, bytes: number) => void) | undefined;
  /** No digest bytes moving for this long fails with Stalled. */
  stallTimeoutMs?: number | undefined;
  /**
   * Per side, an SQL condition over row alias `r` (changedSinceSql) that is false only for rows known to be as the
   * last committed sync left them: only the others are digested. Without it every row is.
   */
  changedSince?: { source: string; target: string } | undefined;
  /** How many keys of the target's own edits to name (with `changedSince`); default 10. */
  editSampleLimit?: number | undefined;
}

export interface ApplyInsertsOptions {
  signal?: AbortSignal | undefined;
  /** Rows and bytes copied so far, over all batches. */
  onRows?: ((rows: number, bytes: number) => void) | undefined;
  /** Keys per batch; default DEFAULT_INSERT_BATCH_SIZE. */
  batchSize?: number | undefined;
  /** No bytes moving in a batch's copy for this long fails with Stalled. */
  stallTimeoutMs?: number | undefined;
}

export interface AppliedInserts extends CopyTableResult {
  batches: number;
}

/** The per-table names on the target; temp tables live in pg_temp, named by a hash so any table name fits in 63 bytes. */
function workNames(spec: DiffTableSpec) {
  const id = createHash('sha256').update(spec.sql).digest('hex').slice(0, 16);
  return {
    digests: `pg_temp.${quoteIdent(`archon_sync_digests_${id}`)}`,
    diff: `pg_temp.${quoteIdent(`archon_sync_diff_${id}`)}`,
    cursor: quoteIdent(`archon_sync_changed_${id}`),
  };
}

/** The staged diff of a table as statements outside this module read it: its work table, key slots and key columns. */
export interface DiffKeys {
  /** Qualified, quoted name of the diff table (key slots…, change). */
  diff: string;
  /** Quoted slot columns of the diff table, in key order. */
  slots: string[];
  /** The table's key columns (unquoted), in key order. */
  key: string[];
}

/** Where a table's staged diff is (for keeping the rows it will replace before applyDeletes runs). */
export function diffKeys(spec: DiffTableSpec): DiffKeys {
  return { diff: workNames(spec).diff, slots: keySlots(spec), key: spec.key };
}

/** The work tables name key columns by position, so no table column (say, one called `digest`) can collide. */
function keySlots(spec: DiffTableSpec): string[] {
  return spec.key.map((_, i) => quoteIdent(`k${i}`));
}

/** `a.x = b.y AND …` over the key. */
function keyMatch(spec: DiffTableSpec, tableAlias: string, slotAlias: string): string {
  const slots = keySlots(spec);
  return spec.key.map((k, i) => `${tableAlias}.${quoteIdent(k)} = ${slotAlias}.${slots[i]}`).join(' AND ');
}

/**
 * Creates, for every table, the two work tables on the target in one message: the source's digests
 * (key…, digest) and the diff (key…, change: i insert, u update, d delete; seen). CREATE TABLE AS … WITH NO DATA
 * takes the key columns' types from the target table itself. ON COMMIT DROP: they vanish with the transaction,
 * as a transaction pooler requires.
 */
export async function createDigestTables(target: pg.ClientBase, specs: readonly DiffTableSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const statements = specs.flatMap((spec) => {
    const names = workNames(spec);
    const keys = spec.key.map((k) => `t.${quoteIdent(k)}`).join(', ');
    const slots = keySlots(spec).join(', ');
    return [
      `CREATE TEMP TABLE ${names.digests} (${slots}, digest) ON COMMIT DROP AS SELECT ${keys}, NULL::pg_catalog.bytea FROM ${spec.sql} t WITH NO DATA`,
      // seen: the source row is as the last run saw it (its digest was not streamed): an insert of such a row puts
      // back a row the target itself deleted since.
      `CREATE TEMP TABLE ${names.diff} (${slots}, change, seen) ON COMMIT DROP AS SELECT ${keys}, NULL::pg_catalog."char", NULL::boolean FROM ${spec.sql} t WITH NO DATA`,
    ];
  });
  await target.query(statements.join(';\n'));
}

/** Results of a multi-statement message, whichever shape node-pg gave them. */
function results(value: pg.QueryResult | pg.QueryResult[]): pg.QueryResult[] {
  return Array.isArray(value) ? value : [value];
}

// Deleting old versions with FK triggers active would cascade to unchanged child rows (and inserting would
// check FKs row by row in an order we do not control): incremental sync is only correct in replica role.
export function requireReplicaRole(role: unknown, table?: string): void {
  if (role !== 'replica') {
    throw new CopyError(`incremental sync${table ? ` of ${table}` : ''} needs session_replication_role = replica on the target (it is ${String(role)}); the target was rolled back`, { table });
  }
}

/**
 * Streams (key, `digest`) of the source's rows (those matching `where`, both SQL over alias `r`) into the target's
 * digest table. Keys travel in binary unless a key column's binary form embeds type OIDs: text loads every type.
 */
function copyDigests(source: pg.ClientBase, target: pg.ClientBase, spec: DiffTableSpec, digest: string, where: string | undefined,
  options: Pick<StageDiffOptions, 'signal' | 'onRows' | 'stallTimeoutMs'>): Promise<CopyTableResult> {
  const text = new Set(spec.textColumns);
  const format = spec.key.some((k) => text.has(k)) ? 'text' : 'binary';
  const keys = spec.key.map((k) => `r.${quoteIdent(k)}`).join(', ');
  return copyQuery({
    source,
    target,
    out: `COPY (SELECT ${keys}, ${digest} FROM ${spec.sql} r${where ? ` WHERE ${where}` : ''}) TO STDOUT (FORMAT ${format})`,
    into: `COPY ${workNames(spec).digests} (${keySlots(spec).join(', ')}, digest) FROM STDIN (FORMAT ${format})`,
    format,
    signal: options.signal,
    onRows: options.onRows,
    stallTimeoutMs: options.stallTimeoutMs,
  });
}

/**
 * Streams the source's (key, digest) for every row into the target's digest table, then computes the diff in
 * ONE target statement: a FULL JOIN of the staged digests with the target table, by key, keeping only keys
 * that are missing on a side or whose digests differ. Nothing is written to the real table. Round trips: one
 * COPY pipe and one message.
 *
 * With `changedSince`, a source row the last sync already saw streams its key with a NULL digest, and reading
 * its columns is skipped: that is where the time goes (TOASTed text and vectors). The target digests a row only
 * when the source's row changed. Rows only the target rewrote are checked after (recheckTargetWrites): their
 * source digests fetched by key, so a rewrite with the same values changes nothing.
 */
export async function stageDiff(source: pg.ClientBase, target: pg.ClientBase, spec: DiffTableSpec, options: StageDiffOptions): Promise<StagedDiff> {
  const names = workNames(spec);
  const slots = keySlots(spec);
  const changed = options.changedSince;
  const sourceDigest = rowDigestSql(spec, options.sendFunctions.source, 'r');
  const staged = await copyDigests(source, target, spec, changed ? `CASE WHEN ${changed.source} THEN ${sourceDigest} END` : sourceDigest, undefined, options);

  const firstSlot = slots[0] ?? '';
  const firstKey = `r.${quoteIdent(spec.key[0] ?? '')}`;
  // The target's digest sits in a CASE over the joined row, so it is computed only for rows on both sides.
  const targetDiffers = `s.digest <> ${rowDigestSql(spec, options.sendFunctions.target, 'r')}`;
  const differs = changed ? `CASE WHEN s.digest IS NULL THEN ${changed.target} ELSE ${targetDiffers} END` : targetDiffers;
  // Key columns are NOT NULL (primary key), so a NULL key means "no row on that side".
  const diff = `WITH changed AS (
      INSERT INTO ${names.diff} (${slots.join(', ')}, change, seen)
      SELECT ${slots.map((slot, i) => `coalesce(s.${slot}, r.${quoteIdent(spec.key[i] ?? '')})`).join(', ')},
             CASE WHEN ${firstKey} IS NULL THEN 'i' WHEN s.${firstSlot} IS NULL THEN 'd' WHEN s.digest IS NULL THEN 'c' ELSE 'u' END,
             ${changed ? `s.${firstSlot} IS NOT NULL AND s.digest IS NULL` : 'false'}
        FROM ${names.digests} s FULL JOIN ${spec.sql} r ON ${keyMatch(spec, 'r', 's')}
       WHERE s.${firstSlot} IS NULL OR ${firstKey} IS NULL OR ${differs}
      RETURNING change)
    SELECT count(*) FILTER (WHERE change = 'i')::int AS inserts, count(*) FILTER (WHERE change = 'u')::int AS updates,
           count(*) FILTER (WHERE change = 'd')::int AS deletes, count(*) FILTER (WHERE change = 'c')::int AS checks,
           current_setting('session_replication_role') AS role
      FROM changed`;
  // Statistics on the staged digests let the planner hash the smaller side; on the diff, they size the joins
  // of the delete and of the insert cursor. Both are cheap next to the digests themselves.
  // The target's own edits ride in the same message (they read the diff just written) unless rows only the
  // target rewrote must be rechecked first: then they are read once the recheck settled which of those differ.
  const edits = changed ? targetEditsSql(spec, changed.target, options.editSampleLimit ?? 10) : undefined;
  const replies = results(await target.query(`ANALYZE ${names.digests}; ${diff}; ANALYZE ${names.diff}${edits ? `; ${edits}` : ''}`));
  const selects = replies.filter((r) => r.command === 'SELECT');
  const counts = selects[0]?.rows[0] as { inserts: number; updates: number; deletes: number; checks: number; role: string } | undefined;
  if (!counts) throw new Error(`the diff of ${spec.sql} returned no counts`);
  requireReplicaRole(counts.role, spec.sql);
  let targetEdits = selects[1]?.rows[0] as TargetEdits | undefined;
  if (counts.checks > 0) {
    const rechecked = await recheckTargetWrites(source, target, spec, counts.checks, options);
    counts.updates += rechecked.differing;
    staged.bytes += rechecked.bytes;
    if (edits) targetEdits = (await target.query(edits)).rows[0] as TargetEdits | undefined;
  }
  return {
    table: spec.sql,
    sourceRows: staged.rows,
    // Source rows are unchanged + updates + inserts; target rows are unchanged + updates + deletes.
    targetRows: staged.rows - counts.inserts + counts.deletes,
    inserts: counts.inserts,
    updates: counts.updates,
    deletes: counts.deletes,
    bytes: staged.bytes,
    targetEdits: targetEdits && { inserted: targetEdits.inserted, updated: targetEdits.updated, deleted: targetEdits.deleted, keys: targetEdits.keys ?? [] },
  };
}

/**
 * Counts, among the staged diff's keys, the rows the target itself wrote since the last run: `writtenSince` is the
 * target's change filter over alias `r`. A source-only key whose source row the last run already saw (`seen`)
 * was on the target then, so the target deleted it since. Reads only the diff's keys and their target rows.
 */
function targetEditsSql(spec: DiffTableSpec, writtenSince: string, limit: number): string {
  const names = workNames(spec);
  const slots = keySlots(spec);
  const keyText = spec.key.map((k, i) => `${quoteDataLiteral(`${k}=`)} || d.${slots[i]}::pg_catalog.text`).join(` || ', ' || `);
  return `WITH e AS (
      SELECT d.change, ${keyText} AS key, ${slots.map((slot) => `d.${slot}`).join(', ')}
        FROM ${names.diff} d LEFT JOIN ${spec.sql} r ON ${keyMatch(spec, 'r', 'd')}
       WHERE CASE WHEN d.change = 'i' THEN d.seen ELSE d.change IN ('d', 'u') AND ${writtenSince} END)
    SELECT count(*) FILTER (WHERE change = 'd')::int AS inserted, count(*) FILTER (WHERE change = 'u')::int AS updated,
           count(*) FILTER (WHERE change = 'i')::int AS deleted,
           ARRAY(SELECT key FROM e ORDER BY ${slots.join(', ')} LIMIT ${Math.max(0, Math.floor(limit))}) AS keys
      FROM e`;
}

/**
 * Walks the diff's keys whose change matches `which` (SQL over alias `d`), in key order, `batchSize` at a time:
 * a cursor on the target, FETCH between the caller's statements on the same connection, inside the transaction.
 * Node holds one batch of keys (as text), never the whole list. The last FETCH closes the cursor in the same
 * message, since `expected` (from the diff's counts) says which one is last.
 */
async function eachKeyBatch(target: pg.ClientBase, spec: DiffTableSpec, which: string, expected: number, options: { batchSize: number; signal?: AbortSignal | undefined },
  work: (batch: string[][]) => Promise<number>): Promise<void> {
  const names = workNames(spec);
  const slots = keySlots(spec);
  const fetch = (fetched: number) => {
    const statement = `FETCH FORWARD ${options.batchSize} FROM ${names.cursor}`;
    return fetched + options.batchSize >= expected ? `${statement}; CLOSE ${names.cursor}` : statement;
  };
  // Key order: the source reads each batch through its primary-key index in order.
  const declare = `DECLARE ${names.cursor} NO SCROLL CURSOR FOR
    SELECT ${slots.map((slot) => `d.${slot}::pg_catalog.text`).join(', ')} FROM ${names.diff} d WHERE ${which} ORDER BY ${slots.map((slot) => `d.${slot}`).join(', ')}`;
  let message = `${declare}; ${fetch(0)}`;
  let done = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const replies = results(await target.query({ text: message, rowMode: 'array' }));
    const batch = (replies.find((r) => r.command === 'FETCH')?.rows ?? []) as string[][];
    if (batch.length === 0) return;
    done += await work(batch);
    if (done >= expected) return;
    message = fetch(done);
  }
}

/**
 * Rows only the target rewrote since the last sync (change 'c'): the source's row is the one that sync saw, so
 * its digest was not streamed. Fetches those digests by key, in batches, into the digest table, then keeps in
 * the diff, as updates, only the rows whose digests differ. Round trips: one FETCH and one COPY pipe per batch,
 * and one message.
 */
async function recheckTargetWrites(source: pg.ClientBase, target: pg.ClientBase, spec: DiffTableSpec, expected: number,
  options: StageDiffOptions): Promise<{ differing: number; bytes: number }> {
  const names = workNames(spec);
  const slots = keySlots(spec);
  let bytes = 0;
  await eachKeyBatch(target, spec, `d.change = 'c'`, expected, { batchSize: DEFAULT_INSERT_BATCH_SIZE, signal: options.signal }, async (batch) => {
    const copied = await copyDigests(source, target, spec, rowDigestSql(spec, options.sendFunctions.source, 'r'), batchFilter(spec, batch),
      { signal: options.signal, stallTimeoutMs: options.stallTimeoutMs });
    if (copied.rows !== batch.length) {
      throw new CopyError(`${spec.sql}: the source returned ${copied.rows} digests for a batch of ${batch.length} keys (a key did not read back as itself); the target was rolled back`, {
        table: spec.sql, details: { firstKey: batch[0] },
      });
    }
    bytes += copied.bytes;
    return copied.rows;
  });
  const replies = results(await target.query(
    `DELETE FROM ${names.diff} d USING ${names.digests} s, ${spec.sql} r
      WHERE d.change = 'c' AND s.digest IS NOT NULL AND ${slots.map((slot) => `s.${slot} = d.${slot}`).join(' AND ')} AND ${keyMatch(spec, 'r', 'd')}
        AND s.digest = ${rowDigestSql(spec, options.sendFunctions.target, 'r')};
     UPDATE ${names.diff} SET change = 'u' WHERE change = 'c'`,
  ));
  return { differing: replies[1]?.rowCount ?? 0, bytes };
}

/**
 * Deletes the target-only rows and the old versions of changed rows, in one statement (none when there are
 * none). Call it for every table before applyInserts for that table: with the old versions gone, rows that
 * swap a unique key (two chunks exchanging url and chunk_number) load without a unique violation.
 */
export async function applyDeletes(target: pg.ClientBase, spec: DiffTableSpec, staged: StagedDiff): Promise<number> {
  const expected = staged.deletes + staged.updates;
  if (expected === 0) return 0;
  const names = workNames(spec);
  const replies = results(await target.query(
    `SELECT current_setting('session_replication_role') AS role;
     DELETE FROM ${spec.sql} r USING ${names.diff} d WHERE d.change <> 'i' AND ${keyMatch(spec, 'r', 'd')}`,
  ));
  requireReplicaRole((replies[0]?.rows[0] as { role?: string } | undefined)?.role, spec.sql);
  const deleted = replies[1]?.rowCount ?? 0;
  if (deleted !== expected) {
    throw new CopyError(`${spec.sql}: deleted ${deleted} rows where the diff expected ${expected} (did something else change the target meanwhile?); the target was rolled back`, { table: spec.sql });
  }
  return deleted;
}

/** `key IN (…)` for one batch: a single column becomes `= ANY(array)` for an index scan; composite keys compare rows. */
function batchFilter(spec: DiffTableSpec, batch: readonly (readonly string[])[]): string {
  if (spec.key.length === 1) {
    return `r.${quoteIdent(spec.key[0] ?? '')} IN (${batch.map((key) => quoteDataLiteral(key[0] ?? '')).join(', ')})`;
  }
  const columns = spec.key.map((k) => `r.${quoteIdent(k)}`).join(', ');
  return `(${columns}) IN (${batch.map((key) => `(${key.map(quoteDataLiteral).join(', ')})`).join(', ')})`;
}

/**
 * Copies the new and changed rows from the source snapshot, batch by batch: a cursor on the target walks the
 * diff's insert and update keys (FETCH between COPYs on the same connection, inside the transaction), and each
 * batch of keys becomes one `COPY (SELECT … WHERE key IN (…)) TO STDOUT` on the source piped into
 * `COPY … FROM STDIN` on the target. Node holds one batch of keys, never the whole list. Round trips: one
 * FETCH and one COPY pipe per batch.
 *
 * Keys travel as text literals (COPY takes no parameters), both sides under useDigestSettings so the text of
 * a timestamp or float key reads back as the same value. Each batch must return exactly its keys' rows.
 */
export async function applyInserts(source: pg.ClientBase, target: pg.ClientBase, spec: DiffTableSpec, staged: StagedDiff, options: ApplyInsertsOptions = {}): Promise<AppliedInserts> {
  const expected = staged.inserts + staged.updates;
  const done: AppliedInserts = { rows: 0, bytes: 0, batches: 0 };
  if (expected === 0) return done;
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_INSERT_BATCH_SIZE));
  const columns = quoteColumns(spec.columns);
  const selected = spec.columns.map((c) => `r.${quoteIdent(c)}`).join(', ');
  await eachKeyBatch(target, spec, `d.change <> 'd'`, expected, { batchSize, signal: options.signal }, async (batch) => {
    const before = { rows: done.rows, bytes: done.bytes };
    const copied = await copyQuery({
      source,
      target,
      out: `COPY (SELECT ${selected} FROM ${spec.sql} r WHERE ${batchFilter(spec, batch)}) TO STDOUT (FORMAT ${spec.format})`,
      into: `COPY ${spec.sql} (${columns}) FROM STDIN (FORMAT ${spec.format})`,
      format: spec.format,
      signal: options.signal,
      onRows: options.onRows ? (rows, bytes) => options.onRows?.(before.rows + rows, before.bytes + bytes) : undefined,
      stallTimeoutMs: options.stallTimeoutMs,
    });
    if (copied.rows !== batch.length) {
      throw new CopyError(`${spec.sql}: the source returned ${copied.rows} rows for a batch of ${batch.length} changed keys (a key did not read back as itself); the target was rolled back`, {
        table: spec.sql, details: { firstKey: batch[0] },
      });
    }
    done.rows += copied.rows;
    done.bytes += copied.bytes;
    done.batches += 1;
    return copied.rows;
  });
  if (done.rows !== expected) {
    throw new CopyError(`${spec.sql}: copied ${done.rows} new and changed rows where the diff expected ${expected}; the target was rolled back`, { table: spec.sql });
  }
  return done;
}
