// Incremental diff of many tables at once: every table's (tag, key, digest) in ONE staged COPY under the source's
// snapshot, ONE diff message on the target for all of them, and a constant number of statements per changed
// table to apply. Through a link where each statement is a round trip, a run pays for what changed, not for the
// number of tables.
//
// Statements per side (one simple-query message or one COPY each):
//   createStaging                          target 1
//   diffTables, nothing to recheck         source 1 (COPY)   target 2 (COPY, diff)
//     + rows only the target rewrote       source 1 (COPY)   target 2 (COPY, resolve)
//   deleteChanged (all tables)                               target 1 (deletes, and the keys to copy)
//   copyChanged (per table)                source 1 (COPY)   target 1 (COPY)
//   readChangedKeys, copyOldRows (per table)                 target 1
//
// Keys travel as text, under the settings every archon-sync transaction pins (CANONICAL_TEXT), and are cast back
// to the key column's type on the target (format_type, read when the staging is created), so every join is
// typed. Key lists travel as array literals the target builds (array_agg(key)::text): one string per table and
// key column in node, never one object per key.

import type { Readable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CopyError } from '../errors.js';
import { runBatch } from './batch.js';
import { copyQuery, type CopyTableResult } from './copy.js';
import { quoteColumns, quoteDataLiteral, quoteIdent, quoteLiteral } from './quote.js';
import { rowDigestSql, type DiffTableSpec, type SendFunctions } from './row-digest-sql.js';

/** The staged digests, partitioned by table tag (one partition a table, so each diff reads only its own). */
const STAGE = `pg_temp.${quoteIdent('archon_sync_stage')}`;
/** The diff of every table: (tag, key slots, change, target_edit). */
const CHANGES = `pg_temp.${quoteIdent('archon_sync_changes')}`;
/** Table tags are int2. */
const MAX_TABLES = 32767;

function stagePartition(tag: number): string {
  return `pg_temp.${quoteIdent(`archon_sync_stage_${tag}`)}`;
}

// Deleting old versions with FK triggers active would cascade to unchanged child rows (and inserting would
// check FKs row by row in an order we do not control): incremental sync is only correct in replica role.
export function requireReplicaRole(role: unknown, table?: string): void {
  if (role !== 'replica') {
    throw new CopyError(`incremental sync${table ? ` of ${table}` : ''} needs session_replication_role = replica on the target (it is ${String(role)}); the target was rolled back`, { table });
  }
}

/** One table's staged keys as statements outside this module read them: a relation, its key slots and the table's key columns. */
export interface KeysRelation {
  /** A relation (a parenthesized SELECT) with the key slots, typed as the table's key, and `change` (i, u, d). */
  diff: string;
  /** Quoted slot columns of that relation, in key order. */
  slots: string[];
  /** The table's key columns (unquoted), in key order. */
  key: string[];
}

/** What createStaging made on the target, for the tables in tag order (tag = index). */
export interface Staging {
  readonly tables: readonly DiffTableSpec[];
  /**
   * Per table, the SQL type of each key column as the target names it (format_type without a typmod, so a cast
   * never rounds or truncates): keys travel as text and are cast back with it.
   */
  readonly keyTypes: readonly (readonly string[])[];
  /** Key slots of the work tables: the widest primary key among the tables. */
  readonly width: number;
}

/** Per side, an SQL condition over row alias `r` (changedSinceSql): false only for rows as the last sync left them. */
export interface ChangedSinceSql {
  source: string;
  target: string;
}

export interface DiffKeys {
  count: number;
  /** The first keys (sampleLimit), each as its columns' text, ordered by that text in the C collation. */
  keys: string[][];
}

/** What the target must change in one table, and what the target did on its own since the watermark. */
export interface TableDiff {
  /** Quoted, schema-qualified name. */
  table: string;
  /** Rows in the source snapshot (keys streamed). */
  sourceRows: number;
  /** Rows in the target before applying. */
  targetRows: number;
  /** Keys only on the source: inserts. */
  onlyOnSource: DiffKeys;
  /** Keys only on the target: deletes. */
  onlyOnTarget: DiffKeys;
  /** Keys on both sides whose rows differ: updates. */
  differing: DiffKeys;
  /** Rows the source did not digest (unchanged since the watermark) that the target wrote since: not yet resolved. */
  checks: number;
  /**
   * With a change filter, the changes the target made since the watermark (all zero without one):
   * `deleted`, a source row unchanged since is missing on the target; `inserted`, a target-only row written
   * since; `edited`, a row on both sides that differs and that the target wrote since.
   */
  targetEdits: { deleted: DiffKeys; inserted: DiffKeys; edited: DiffKeys };
}

export interface MultiDiff {
  tables: TableDiff[];
  /** Bytes of digests streamed from the source (the recheck's included). */
  bytes: number;
  /** Per table, array literals of the keys still to recheck (one per key column); empty when none. */
  pendingChecks: readonly (readonly string[])[];
  /** The replies to DiffTablesOptions.alongside, in order. */
  alongside: pg.QueryResult[];
}

/** A list of keys of one table: one array literal per key column (`{…}`, aligned), built by the target. */
export interface KeyList {
  count: number;
  literals: string[];
}

function slotNames(width: number): string[] {
  return Array.from({ length: width }, (_, i) => quoteIdent(`k${i}`));
}

/** The staging's key slots for one table: its own key's first `key.length` slots. */
function ownSlots(spec: DiffTableSpec): string[] {
  return slotNames(spec.key.length);
}

/** `r.key = s.k::type AND …`: the table's key against a text slot cast back to the key's type. */
function typedKeyMatch(staging: Staging, tag: number, tableAlias: string, slotAlias: string): string {
  const spec = staging.tables[tag]!;
  const types = staging.keyTypes[tag]!;
  return ownSlots(spec).map((slot, i) => `${tableAlias}.${quoteIdent(spec.key[i]!)} = ${slotAlias}.${slot}::${types[i]!}`).join(' AND ');
}

/**
 * Creates the work tables on the target in ONE message, and reads the key columns' types in it: the staged
 * digests (t, k0…, digest), partitioned by t with one partition a table, and the diff (t, k0…, change,
 * target_edit). ON COMMIT DROP, partitions included: a transaction pooler keeps no session state, and nothing
 * outlives the transaction. One staging per transaction.
 */
export async function createStaging(target: pg.ClientBase, tables: readonly DiffTableSpec[]): Promise<Staging> {
  return stagingFrom(tables, await runBatch(target, stagingStatements(tables)));
}

/** createStaging's statements, for a caller that sends them in one message with others; read the replies with stagingFrom. */
export function stagingStatements(tables: readonly DiffTableSpec[]): string[] {
  if (tables.length === 0 || tables.length > MAX_TABLES) throw new Error(`a staging holds 1 to ${MAX_TABLES} tables, not ${tables.length}`);
  const width = Math.max(...tables.map((spec) => spec.key.length));
  if (width === 0) throw new Error('every staged table needs a primary key');
  const slots = slotNames(width).map((slot) => `${slot} pg_catalog.text`).join(', ');
  const wanted = tables.flatMap((spec, tag) => spec.key.map((column, i) => `(${tag}, ${i}, ${quoteLiteral(spec.sql)}, ${quoteLiteral(column)})`));
  return [
    `CREATE TEMP TABLE ${STAGE} (t pg_catalog.int2 NOT NULL, ${slots}, digest pg_catalog.bytea) PARTITION BY LIST (t) ON COMMIT DROP`,
    ...tables.map((_, tag) => `CREATE TEMP TABLE ${stagePartition(tag)} PARTITION OF ${STAGE} FOR VALUES IN (${tag}) ON COMMIT DROP`),
    `CREATE TEMP TABLE ${CHANGES} (t pg_catalog.int2 NOT NULL, ${slots}, change pg_catalog."char" NOT NULL, target_edit pg_catalog."char") ON COMMIT DROP`,
    `SELECT w.t, w.ord, pg_catalog.format_type(a.atttypid, NULL) AS type
       FROM (VALUES ${wanted.join(', ')}) w(t, ord, rel, col)
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = w.rel::pg_catalog.regclass AND a.attname = w.col AND a.attnum > 0 AND NOT a.attisdropped`,
  ];
}

/** The staging made by stagingStatements, from their replies (the key types are the last one's). */
export function stagingFrom(tables: readonly DiffTableSpec[], replies: readonly pg.QueryResult[]): Staging {
  const width = Math.max(...tables.map((spec) => spec.key.length));
  const keyTypes = tables.map((spec) => spec.key.map(() => ''));
  for (const row of (replies.at(-1)?.rows ?? []) as { t: number; ord: number; type: string | null }[]) {
    const spec = tables[row.t]!;
    if (row.type === null) throw new Error(`${spec.sql} has no column ${spec.key[row.ord]} on the target`);
    keyTypes[row.t]![row.ord] = row.type;
  }
  return { tables: [...tables], keyTypes, width };
}

/** `SELECT tag, key::text…, NULL::text (padding), <digest> FROM ONLY table r [WHERE …]`: one branch of a digest UNION ALL. */
function digestBranch(staging: Staging, tag: number, digest: string, where?: string): string {
  const spec = staging.tables[tag]!;
  const keys = slotNames(staging.width).map((_, i) => (i < spec.key.length ? `r.${quoteIdent(spec.key[i]!)}::pg_catalog.text` : 'NULL::pg_catalog.text'));
  return `SELECT ${tag}::pg_catalog.int2, ${keys.join(', ')}, ${digest} FROM ONLY ${spec.sql} r${where ? ` WHERE ${where}` : ''}`;
}

interface StreamOptions {
  signal?: AbortSignal | undefined;
  /** No bytes moving for this long fails with CopyStalledError. */
  stallTimeoutMs?: number | undefined;
  /** Rows streamed so far per table (a live view; the branches may interleave) and bytes in all. */
  onRows?: ((rowsByTable: readonly number[], bytes: number) => void) | undefined;
}

/** One COPY pipe of a UNION ALL of digest branches into the staging; the rows of each table counted by their tag. */
async function copyDigestBranches(source: pg.ClientBase, target: pg.ClientBase, staging: Staging, branches: readonly string[], options: StreamOptions): Promise<{ rowsByTable: number[]; bytes: number }> {
  const copied = await copyQuery({
    source,
    target,
    out: `COPY (${branches.join('\nUNION ALL ')}) TO STDOUT (FORMAT binary)`,
    into: `COPY ${STAGE} (t, ${slotNames(staging.width).join(', ')}, digest) FROM STDIN (FORMAT binary)`,
    format: 'binary',
    tags: staging.tables.length,
    signal: options.signal,
    stallTimeoutMs: options.stallTimeoutMs,
    onRows: options.onRows ? (_rows, bytes, byTag) => options.onRows?.(byTag, bytes) : undefined,
  });
  return { rowsByTable: [...copied.rowsByTag], bytes: copied.bytes };
}

/**
 * The rows of `keys` on the source, over alias `r` (COPY takes no parameters, so the lists are literals). One key
 * column: `key = ANY('{…}')`, the literal left untyped so the source reads it as an array of the column's own
 * type, whatever the type is called there; an index scan. A composite key: `(keys) IN (SELECT * FROM
 * ROWS FROM (unnest('{…}'::type[]), …))`, typed with the target's names (the plan requires the same types on both sides).
 */
function keyListFilter(staging: Staging, tag: number, keys: KeyList): string {
  const spec = staging.tables[tag]!;
  const types = staging.keyTypes[tag]!;
  const literals = keys.literals.map(quoteDataLiteral);
  if (spec.key.length === 1) return `r.${quoteIdent(spec.key[0]!)} = ANY(${literals[0]!})`;
  const arrays = literals.map((literal, i) => `${literal}::${types[i]!}[]`);
  // ROWS FROM (unnest(a), unnest(b)): the multi-argument unnest() shorthand is not recognised schema-qualified.
  return `(${spec.key.map((k) => `r.${quoteIdent(k)}`).join(', ')}) IN (SELECT * FROM ROWS FROM (${arrays.map((array) => `pg_catalog.unnest(${array})`).join(', ')}))`;
}

export interface DiffTablesOptions extends StreamOptions {
  /** Each side's send functions (readSendFunctions on that side): the digest is built from them. */
  sendFunctions: { source: SendFunctions; target: SendFunctions };
  /**
   * By table (quoted name), per side, the rows that may have changed since a trusted watermark: a source row
   * the last sync saw streams its key with a NULL digest, and reading its columns is skipped.
   */
  changedSince?: ReadonlyMap<string, ChangedSinceSql> | undefined;
  /** How many keys of each kind to return per table (verify's samples, target edits); default 0. */
  sampleLimit?: number | undefined;
  /** Incremental sync needs session_replication_role = replica (the default); a verify does not. */
  requireReplica?: boolean | undefined;
  /** Statements sent at the end of the first diff message, for the caller (their replies: MultiDiff.alongside). */
  alongside?: readonly string[] | undefined;
}

/** `ORDER BY` over the diff's key slots in byte order, the same in every aggregate so aligned arrays stay aligned. */
function slotOrder(width: number, alias: string): string {
  return slotNames(width).map((slot) => `${alias}.${slot} COLLATE "C"`).join(', ');
}

/**
 * Per table: counts, samples and the keys still to recheck, read from the diff in one statement, with the
 * session's replication role. One JSON document, so an empty diff still returns a row.
 */
function summarySql(width: number, sampleLimit: number): string {
  const order = slotOrder(width, 'd');
  const keyArray = `pg_catalog.json_build_array(${slotNames(width).map((slot) => `d.${slot}`).join(', ')})`;
  const sample = (name: string, condition: string) => sampleLimit > 0
    ? `, 'sample_${name}', coalesce(pg_catalog.json_agg(${keyArray} ORDER BY ${order}) FILTER (WHERE ${condition}), '[]')`
    : '';
  const kinds: [name: string, condition: string, rank: string][] = [
    ['inserts', `d.change = 'i'`, 'change_rank'],
    ['updates', `d.change = 'u'`, 'change_rank'],
    ['deletes', `d.change = 'd'`, 'change_rank'],
    ['target_deleted', `d.target_edit = 'd' AND d.change <> 'c'`, 'edit_rank'],
    ['target_inserted', `d.target_edit = 'i' AND d.change <> 'c'`, 'edit_rank'],
    ['target_edited', `d.target_edit = 'u' AND d.change <> 'c'`, 'edit_rank'],
  ];
  const fields = kinds.map(([name, condition, rank]) => `'${name}', count(*) FILTER (WHERE ${condition})${sample(name, `${condition} AND d.${rank} <= ${sampleLimit}`)}`);
  const checks = slotNames(width).map((slot) => `(pg_catalog.array_agg(d.${slot} ORDER BY ${order}) FILTER (WHERE d.change = 'c'))::pg_catalog.text`);
  // Ranks only when samples are asked for: they sort the whole diff.
  const ranked = sampleLimit > 0
    ? `(SELECT c.*, pg_catalog.row_number() OVER (PARTITION BY c.t, c.change ORDER BY ${slotOrder(width, 'c')}) AS change_rank,
               pg_catalog.row_number() OVER (PARTITION BY c.t, c.target_edit, c.change = 'c' ORDER BY ${slotOrder(width, 'c')}) AS edit_rank
          FROM ${CHANGES} c)`
    : CHANGES;
  return `SELECT pg_catalog.current_setting('session_replication_role') AS role,
      (SELECT coalesce(pg_catalog.json_agg(x.doc), '[]') FROM (
         SELECT pg_catalog.json_build_object('t', d.t, ${fields.join(', ')}, 'checks', count(*) FILTER (WHERE d.change = 'c'),
                'check_keys', CASE WHEN count(*) FILTER (WHERE d.change = 'c') > 0 THEN pg_catalog.json_build_array(${checks.join(', ')}) END) AS doc
           FROM ${ranked} d GROUP BY d.t) x) AS tables`;
}

interface SummaryRow {
  t: number;
  inserts: number; updates: number; deletes: number; checks: number;
  target_deleted: number; target_inserted: number; target_edited: number;
  sample_inserts?: (string | null)[][]; sample_updates?: (string | null)[][]; sample_deletes?: (string | null)[][];
  sample_target_deleted?: (string | null)[][]; sample_target_inserted?: (string | null)[][]; sample_target_edited?: (string | null)[][];
  check_keys: string[] | null;
}

/** Reads a summary reply into per-table diffs (every staged table, changed or not), checking the role when asked. */
function readSummary(staging: Staging, reply: pg.QueryResult | undefined, sourceRows: readonly number[], requireReplica: boolean): { tables: TableDiff[]; pendingChecks: string[][] } {
  const row = reply?.rows[0] as { role: string; tables: SummaryRow[] } | undefined;
  if (!row) throw new Error('the diff returned no summary');
  if (requireReplica) requireReplicaRole(row.role);
  const byTag = new Map(row.tables.map((t) => [t.t, t]));
  const pendingChecks: string[][] = [];
  const tables = staging.tables.map((spec, tag) => {
    const t = byTag.get(tag);
    const width = spec.key.length;
    const sample = (count: number | undefined, keys: (string | null)[][] | undefined): DiffKeys => ({
      count: count ?? 0, keys: (keys ?? []).map((key) => key.slice(0, width).map((k) => k ?? '')),
    });
    pendingChecks.push(t?.check_keys?.slice(0, width) ?? []);
    const inserts = t?.inserts ?? 0;
    const deletes = t?.deletes ?? 0;
    const rows = sourceRows[tag] ?? 0;
    return {
      table: spec.sql,
      sourceRows: rows,
      // Source rows are unchanged + updates + inserts; target rows are unchanged + updates + deletes.
      targetRows: rows - inserts + deletes,
      onlyOnSource: sample(inserts, t?.sample_inserts),
      onlyOnTarget: sample(deletes, t?.sample_deletes),
      differing: sample(t?.updates, t?.sample_updates),
      checks: t?.checks ?? 0,
      targetEdits: {
        deleted: sample(t?.target_deleted, t?.sample_target_deleted),
        inserted: sample(t?.target_inserted, t?.sample_target_inserted),
        edited: sample(t?.target_edited, t?.sample_target_edited),
      },
    };
  });
  return { tables, pendingChecks };
}

/** One table's diff rows: a FULL JOIN of its staged partition with the table, keeping keys missing on a side or differing. */
function diffInsert(staging: Staging, tag: number, targetSend: SendFunctions, changed: ChangedSinceSql | undefined): string {
  const spec = staging.tables[tag]!;
  const slots = ownSlots(spec);
  const pad = slotNames(staging.width).slice(spec.key.length);
  const firstKey = `r.${quoteIdent(spec.key[0]!)}`;
  const firstSlot = `s.${slots[0]!}`;
  // The target's digest sits in a CASE over the joined row, so it is computed only for rows on both sides.
  const targetDiffers = `s.digest <> ${rowDigestSql(spec, targetSend, 'r')}`;
  const differs = changed ? `CASE WHEN s.digest IS NULL THEN ${changed.target} ELSE ${targetDiffers} END` : targetDiffers;
  // What the target did since the watermark, told from the same marks: only with a filter.
  const edit = changed
    ? `CASE WHEN ${firstKey} IS NULL THEN CASE WHEN s.digest IS NULL THEN 'd' END
            WHEN ${firstSlot} IS NULL THEN CASE WHEN ${changed.target} THEN 'i' END
            WHEN ${changed.target} THEN 'u' END`
    : 'NULL';
  // Key columns are NOT NULL (primary key), so a NULL key means "no row on that side". A key only on the
  // target travels as the target's text of it, which casts back to the same value (CANONICAL_TEXT).
  return `INSERT INTO ${CHANGES} (t, ${[...slots, ...pad].join(', ')}, change, target_edit)
    SELECT ${tag}, ${slots.map((slot, i) => `coalesce(s.${slot}, r.${quoteIdent(spec.key[i]!)}::pg_catalog.text)`).join(', ')}${pad.map(() => ', NULL').join('')},
           CASE WHEN ${firstKey} IS NULL THEN 'i' WHEN ${firstSlot} IS NULL THEN 'd' WHEN s.digest IS NULL THEN 'c' ELSE 'u' END, ${edit}
      FROM ${stagePartition(tag)} s FULL JOIN ONLY ${spec.sql} r ON ${typedKeyMatch(staging, tag, 'r', 's')}
     WHERE ${firstSlot} IS NULL OR ${firstKey} IS NULL OR ${differs}`;
}

/**
 * Streams every table's (tag, key, digest) from the source into the staging in ONE COPY pipe (a UNION ALL under
 * the source's one snapshot), computes every table's diff in ONE target message (ANALYZE the partitions, one
 * INSERT … SELECT per table from its partition FULL JOIN the table, ANALYZE the diff, one summary), then
 * resolves the rows only the target rewrote (recheckTargetWrites) when there are any. Nothing is written to the
 * real tables. Statements: source 1, target 2; with rows to recheck, source 2, target 4.
 */
export async function diffTables(source: pg.ClientBase, target: pg.ClientBase, staging: Staging, options: DiffTablesOptions): Promise<MultiDiff> {
  const changed = (tag: number) => options.changedSince?.get(staging.tables[tag]!.sql);
  const branches = staging.tables.map((spec, tag) => {
    const digest = rowDigestSql(spec, options.sendFunctions.source, 'r');
    const filter = changed(tag);
    return digestBranch(staging, tag, filter ? `CASE WHEN ${filter.source} THEN ${digest} END` : digest);
  });
  const streamed = await copyDigestBranches(source, target, staging, branches, options);
  const sampleLimit = Math.max(0, Math.floor(options.sampleLimit ?? 0));
  // Statistics on the staged digests let the planner hash the smaller side; on the diff, they size the joins of
  // the deletes and the copies. Each statement of the message is planned after the one before it ran. The
  // partitions, not the parent: the diff reads only them, and ANALYZE of the parent samples them all a second time.
  const replies = await runBatch(target, [
    `ANALYZE ${staging.tables.map((_, tag) => stagePartition(tag)).join(', ')}`,
    ...staging.tables.map((_, tag) => diffInsert(staging, tag, options.sendFunctions.target, changed(tag))),
    `ANALYZE ${CHANGES}`,
    summarySql(staging.width, sampleLimit),
    ...(options.alongside ?? []),
  ]);
  const alongside = replies.splice(replies.length - (options.alongside?.length ?? 0));
  const summary = readSummary(staging, replies.at(-1), streamed.rowsByTable, options.requireReplica ?? true);
  const diff: MultiDiff = { tables: summary.tables, bytes: streamed.bytes, pendingChecks: summary.pendingChecks, alongside };
  return diff.tables.some((t) => t.checks > 0) ? recheckTargetWrites(source, target, staging, diff, options) : diff;
}

/**
 * Rows only the target rewrote since the watermark (the source's row is the one the last sync saw, so its
 * digest was not streamed): ONE source COPY fetches those rows' digests for every table (keys `= ANY(literal)`,
 * a UNION ALL over the tables concerned) into the staging, and ONE target message keeps, as updates, only the
 * rows whose digests differ, and summarises again. Every key must read back as itself.
 */
export async function recheckTargetWrites(source: pg.ClientBase, target: pg.ClientBase, staging: Staging, diff: MultiDiff, options: DiffTablesOptions): Promise<MultiDiff> {
  const tags = diff.tables.flatMap((t, tag) => (t.checks > 0 ? [tag] : []));
  if (tags.length === 0) return diff;
  const keyLists = new Map(tags.map((tag) => [tag, { count: diff.tables[tag]!.checks, literals: [...diff.pendingChecks[tag]!] }]));
  const branches = tags.map((tag) => digestBranch(staging, tag, rowDigestSql(staging.tables[tag]!, options.sendFunctions.source, 'r'), keyListFilter(staging, tag, keyLists.get(tag)!)));
  const copied = await copyDigestBranches(source, target, staging, branches, { signal: options.signal, stallTimeoutMs: options.stallTimeoutMs });
  for (const tag of tags) expectRows(staging, tag, copied.rowsByTable[tag] ?? 0, diff.tables[tag]!.checks, 'digests to recheck');
  const replies = await runBatch(target, [
    ...tags.map((tag) => {
      const spec = staging.tables[tag]!;
      const sameSlots = ownSlots(spec).map((slot) => `s.${slot} = d.${slot}`).join(' AND ');
      return `DELETE FROM ${CHANGES} d USING ${stagePartition(tag)} s, ONLY ${spec.sql} r
               WHERE d.t = ${tag} AND d.change = 'c' AND s.digest IS NOT NULL AND ${sameSlots} AND ${typedKeyMatch(staging, tag, 'r', 'd')}
                 AND s.digest = ${rowDigestSql(spec, options.sendFunctions.target, 'r')}`;
    }),
    `UPDATE ${CHANGES} SET change = 'u' WHERE change = 'c'`,
    `ANALYZE ${CHANGES}`,
    summarySql(staging.width, Math.max(0, Math.floor(options.sampleLimit ?? 0))),
  ]);
  const summary = readSummary(staging, replies.at(-1), diff.tables.map((t) => t.sourceRows), options.requireReplica ?? true);
  return { tables: summary.tables, bytes: diff.bytes + copied.bytes, pendingChecks: summary.pendingChecks, alongside: diff.alongside };
}

function expectRows(staging: Staging, tag: number, got: number, expected: number, what: string): void {
  if (got === expected) return;
  const table = staging.tables[tag]!.sql;
  throw new CopyError(`${table}: the source returned ${got} rows for ${expected} ${what} (a key did not read back as itself); the target was rolled back`, { table });
}

/** Which rows of the diff a key list takes: `i` inserts, `u` updates, `d` deletes. */
export type ChangeKind = 'i' | 'u' | 'd';

/** The statement that reads, per table among `tags`, the keys of the given kinds as aligned array literals. */
function keyListsSql(staging: Staging, tags: readonly number[], kinds: readonly ChangeKind[]): string {
  const order = slotOrder(staging.width, 'd');
  const arrays = slotNames(staging.width).map((slot) => `(pg_catalog.array_agg(d.${slot} ORDER BY ${order}))::pg_catalog.text`);
  return `SELECT d.t, count(*)::int AS count, pg_catalog.json_build_array(${arrays.join(', ')}) AS literals FROM ${CHANGES} d
           WHERE d.t IN (${tags.join(', ')}) AND d.change IN (${kinds.map((k) => `'${k}'`).join(', ')}) GROUP BY d.t`;
}

function readKeyLists(staging: Staging, reply: pg.QueryResult | undefined): Map<number, KeyList> {
  const lists = new Map<number, KeyList>();
  for (const row of (reply?.rows ?? []) as { t: number; count: number; literals: string[] }[]) {
    lists.set(row.t, { count: row.count, literals: row.literals.slice(0, staging.tables[row.t]!.key.length) });
  }
  return lists;
}

/**
 * The keys of the given kinds for the tables `tags`, in ONE statement: per table, one array literal per key
 * column. Tables without such keys are absent. For issue 25's undo: the keys a run inserts are those to
 * delete again.
 */
export async function readChangedKeys(target: pg.ClientBase, staging: Staging, tags: readonly number[], kinds: readonly ChangeKind[]): Promise<Map<number, KeyList>> {
  if (tags.length === 0 || kinds.length === 0) return new Map();
  const replies = await runBatch(target, [keyListsSql(staging, tags, kinds)]);
  return readKeyLists(staging, replies[0]);
}

export interface DeletedRows {
  /** Rows deleted per table tag (target-only rows and old versions of changed rows). */
  deleted: Map<number, number>;
  /** Per table tag with inserts or updates, the keys to copy from the source (copyChanged). */
  toCopy: Map<number, KeyList>;
}

/**
 * Deletes, for the tables `order` lists (children first), the target-only rows and the old versions of changed
 * rows, and reads the keys of the rows to copy, in ONE message. Each table's count must be the diff's. With the
 * old versions gone, rows that swap a unique key load without a violation. Requires the replica role: deleting
 * an old version with FK triggers active would cascade to its unchanged children.
 */
export async function deleteChanged(target: pg.ClientBase, staging: Staging, diff: MultiDiff, order: readonly number[]): Promise<DeletedRows> {
  const deleting = order.filter((tag) => diff.tables[tag]!.onlyOnTarget.count + diff.tables[tag]!.differing.count > 0);
  const copying = order.filter((tag) => diff.tables[tag]!.onlyOnSource.count + diff.tables[tag]!.differing.count > 0);
  if (order.some((tag) => diff.tables[tag]!.checks > 0)) throw new Error('rows to recheck are left in the diff: run recheckTargetWrites first');
  if (deleting.length + copying.length === 0) return { deleted: new Map(), toCopy: new Map() };
  const replies = await runBatch(target, [
    `SELECT pg_catalog.current_setting('session_replication_role') AS role`,
    ...deleting.map((tag) => `DELETE FROM ONLY ${staging.tables[tag]!.sql} r USING ${CHANGES} d
                               WHERE d.t = ${tag} AND d.change <> 'i' AND ${typedKeyMatch(staging, tag, 'r', 'd')}`),
    ...(copying.length > 0 ? [keyListsSql(staging, copying, ['i', 'u'])] : []),
  ]);
  requireReplicaRole((replies[0]?.rows[0] as { role?: string } | undefined)?.role);
  const deleted = new Map<number, number>();
  deleting.forEach((tag, i) => {
    const count = replies[1 + i]?.rowCount ?? 0;
    const expected = diff.tables[tag]!.onlyOnTarget.count + diff.tables[tag]!.differing.count;
    const table = staging.tables[tag]!.sql;
    if (count !== expected) {
      throw new CopyError(`${table}: deleted ${count} rows where the diff expected ${expected} (did something else change the target meanwhile?); the target was rolled back`, { table });
    }
    deleted.set(tag, count);
  });
  const toCopy = copying.length > 0 ? readKeyLists(staging, replies.at(-1)) : new Map<number, KeyList>();
  for (const tag of copying) {
    const expected = diff.tables[tag]!.onlyOnSource.count + diff.tables[tag]!.differing.count;
    if (toCopy.get(tag)?.count !== expected) throw new Error(`${staging.tables[tag]!.sql}: the diff lists ${toCopy.get(tag)?.count ?? 0} keys to copy where it counted ${expected}`);
  }
  return { deleted, toCopy };
}

export interface CopyChangedOptions {
  signal?: AbortSignal | undefined;
  onRows?: ((rows: number, bytes: number) => void) | undefined;
  /** No bytes moving for this long fails with CopyStalledError. */
  stallTimeoutMs?: number | undefined;
}

/**
 * Copies one table's new and changed rows from the source snapshot in ONE COPY pipe:
 * `COPY (SELECT … FROM ONLY t r WHERE key = ANY('{…}'::type[])) TO STDOUT` into `COPY t (…) FROM STDIN`. Every
 * key must come back as exactly one row. Call deleteChanged first.
 */
export async function copyChanged(source: pg.ClientBase, target: pg.ClientBase, staging: Staging, tag: number, keys: KeyList, options: CopyChangedOptions = {}): Promise<CopyTableResult> {
  if (keys.count === 0) return { rows: 0, bytes: 0 };
  const spec = staging.tables[tag]!;
  const copied = await copyQuery({
    source,
    target,
    out: `COPY (SELECT ${spec.columns.map((c) => `r.${quoteIdent(c)}`).join(', ')} FROM ONLY ${spec.sql} r WHERE ${keyListFilter(staging, tag, keys)}) TO STDOUT (FORMAT ${spec.format})`,
    into: `COPY ${spec.sql} (${quoteColumns(spec.columns)}) FROM STDIN (FORMAT ${spec.format})`,
    format: spec.format,
    signal: options.signal,
    onRows: options.onRows,
    stallTimeoutMs: options.stallTimeoutMs,
  });
  expectRows(staging, tag, copied.rows, keys.count, 'new and changed keys');
  return { rows: copied.rows, bytes: copied.bytes };
}

/**
 * Table `tag`'s staged changes as a relation: key slots typed as the table's own key columns, and the change
 * (`i`, `u`, `d`). Statements outside this module (the backup's) read the keys a run will touch from it, before
 * deleteChanged.
 */
export function changedKeysRelation(staging: Staging, tag: number): KeysRelation {
  const spec = staging.tables[tag]!;
  const types = staging.keyTypes[tag]!;
  const slots = ownSlots(spec);
  const typed = slots.map((slot, i) => `${slot}::${types[i]!} AS ${slot}`).join(', ');
  return { diff: `(SELECT ${typed}, change FROM ${CHANGES} WHERE t = ${tag})`, slots, key: [...spec.key] };
}

/**
 * The target's current versions of the rows a run of `tag` will delete or overwrite (changes `u` and `d`), as a
 * COPY TO STDOUT stream in the table's copy format, columns as `columns`: for the caller to pipe into a file
 * (issue 25's undo) BEFORE deleteChanged. ONE target statement; the connection is busy until the stream ends.
 */
export function copyOldRows(target: pg.ClientBase, staging: Staging, tag: number): { stream: Readable; format: 'binary' | 'text'; columns: string[] } {
  const spec = staging.tables[tag]!;
  const selected = spec.columns.map((c) => `r.${quoteIdent(c)}`).join(', ');
  const stream = target.query(copyTo(`COPY (SELECT ${selected} FROM ONLY ${spec.sql} r JOIN ${CHANGES} d ON d.t = ${tag} AND d.change IN ('u', 'd') AND ${typedKeyMatch(staging, tag, 'r', 'd')})
    TO STDOUT (FORMAT ${spec.format})`));
  return { stream, format: spec.format, columns: [...spec.columns] };
}
