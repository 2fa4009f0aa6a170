// Deterministic mixed changes on the benchmark's source: a share of rows updated, deleted and inserted anew.

import type pg from 'pg';

/**
 * The tables changed, parents first: a deleted page_metadata row sets its chunks' page_id to NULL (the schema's
 * ON DELETE SET NULL), so the chunks copied as new rows afterwards never point at a deleted page. Together they hold
 * 99 % of the rows at every scale; the other 13 tables (settings, projects, tasks…) stay as generated.
 */
const CHANGES: readonly TableChange[] = [
  {
    table: 'archon_page_metadata',
    key: 'id',
    update: `full_content = 'Revised. ' || full_content, word_count = word_count + 1, char_count = char_count + 9,
             updated_at = updated_at + interval '1 day'`,
    columns: 'id, source_id, url, full_content, section_title, section_order, word_count, char_count, chunk_count, created_at, updated_at, metadata',
    copy: `md5(id::text || ':new')::uuid, source_id, url || '#rev', 'New page. ' || full_content, section_title, section_order,
           word_count + 2, char_count + 10, chunk_count, created_at + interval '1 day', updated_at + interval '1 day', metadata`,
  },
  {
    table: 'archon_crawled_pages',
    key: 'id',
    update: `content = 'Revised. ' || content, ${rotatedEmbeddings(1)}`,
    columns: 'id, url, chunk_number, content, metadata, source_id, embedding_384, embedding_768, embedding_1024, embedding_1536, embedding_3072, embedding_3584, llm_chat_model, embedding_model, embedding_dimension, created_at, page_id',
    copy: `(SELECT max(id) FROM archon_crawled_pages) + rank, url, chunk_number + 1000000, 'New chunk. ' || content, metadata, source_id,
           ${embeddingColumns().map((c) => `pg_temp.bench_rotate(${c}, 2)`).join(', ')}, llm_chat_model, embedding_model, embedding_dimension,
           created_at + interval '1 day', page_id`,
    sequence: true,
  },
  {
    table: 'archon_code_examples',
    key: 'id',
    update: `content = 'Revised. ' || content, summary = 'Revised. ' || summary, ${rotatedEmbeddings(1)}`,
    columns: 'id, url, chunk_number, content, summary, metadata, source_id, embedding_384, embedding_768, embedding_1024, embedding_1536, embedding_3072, embedding_3584, llm_chat_model, embedding_model, embedding_dimension, created_at',
    copy: `(SELECT max(id) FROM archon_code_examples) + rank, url, chunk_number + 1000000, 'New example. ' || content, 'New. ' || summary, metadata, source_id,
           ${embeddingColumns().map((c) => `pg_temp.bench_rotate(${c}, 2)`).join(', ')}, llm_chat_model, embedding_model, embedding_dimension,
           created_at + interval '1 day'`,
    sequence: true,
  },
  {
    table: 'archon_task_history',
    key: 'id',
    update: `new_value = coalesce(new_value, '') || ' (edited)', changed_at = changed_at + interval '1 hour'`,
    columns: 'id, task_id, field_name, old_value, new_value, changed_by, changed_at, change_reason',
    copy: `md5(id::text || ':new')::uuid, task_id, field_name, old_value, new_value, changed_by, changed_at + interval '1 day', change_reason`,
  },
];

interface TableChange {
  table: string;
  key: string;
  /** SET clause of an update: new content and, where there is one, a new embedding. */
  update: string;
  /** Columns of an inserted row, and the expressions that make it from a picked row (`rank` numbers the picks). */
  columns: string;
  copy: string;
  /** The key comes from a sequence, moved past the new rows as an application's inserts would. */
  sequence?: boolean;
}

function embeddingColumns(): string[] {
  return [384, 768, 1024, 1536, 3072, 3584].map((d) => `embedding_${d}`);
}

/** A new embedding of the same size: the old one's elements rotated, so the vector points elsewhere. */
function rotatedEmbeddings(by: number): string {
  return embeddingColumns().map((c) => `${c} = pg_temp.bench_rotate(${c}, ${by})`).join(', ');
}

export interface TableChanges {
  table: string;
  rows: number;
  updated: number;
  deleted: number;
  inserted: number;
}

/**
 * Changes `share` of each table's rows: a third updated (new content, new embedding), a third deleted, a third
 * inserted as new rows (copies of other rows with new keys, content and embeddings). Rows are picked by a hash of
 * their key, so the same data and share give the same changes. Runs as the superuser in one transaction.
 */
export async function applySourceChanges(client: pg.ClientBase, share: number): Promise<TableChanges[]> {
  const done: TableChanges[] = [];
  await client.query('BEGIN');
  await client.query(`CREATE FUNCTION pg_temp.bench_rotate(v vector, by integer) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN NULL
      ELSE ((v::real[])[by + 1:vector_dims(v)] || (v::real[])[1:by])::vector END $$`);
  for (const change of CHANGES) {
    const rows = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${change.table}`)).rows[0]?.n ?? 0);
    const total = Math.round(share * rows);
    const updated = Math.round(total / 3);
    const deleted = Math.round(total / 3);
    const inserted = total - updated - deleted;
    if (total > 0) {
      await client.query(`CREATE TEMP TABLE picks ON COMMIT DROP AS
        SELECT ${change.key} AS key, row_number() OVER (ORDER BY md5(${change.key}::text || ':bench')) AS rank FROM ${change.table}`);
      await client.query(`UPDATE ${change.table} SET ${change.update} FROM picks WHERE ${change.key} = picks.key AND picks.rank <= $1`, [updated]);
      await client.query(`DELETE FROM ${change.table} USING picks WHERE ${change.key} = picks.key AND picks.rank > $1 AND picks.rank <= $2`, [updated, updated + deleted]);
      await client.query(`INSERT INTO ${change.table} (${change.columns})
        SELECT ${change.copy} FROM (SELECT t.*, picks.rank - $1 AS rank FROM ${change.table} t JOIN picks ON t.${change.key} = picks.key
          WHERE picks.rank > $1 AND picks.rank <= $2) picked`, [updated + deleted, total]);
      if (change.sequence) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${change.table}', '${change.key}'), (SELECT max(${change.key}) FROM ${change.table}))`);
      }
      await client.query('DROP TABLE picks');
    }
    done.push({ table: change.table, rows, updated, deleted, inserted });
  }
  await client.query('COMMIT');
  return done;
}
