// Deterministic Archon-like data for the 17 tables: the same seed and scale always give byte-identical rows.

import { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pgvector from 'pgvector';
import { ARCHON_TABLES } from '../src/engine/tables.js';

export { ARCHON_TABLES };

export interface GenerateOptions {
  /** Default 1. */
  seed?: number;
  /** Default 1: about 50,000 archon_crawled_pages rows, the other tables in Archon's proportions. */
  scale?: number;
  /** Called after each table is loaded. */
  onTable?: (table: string, rows: number) => void;
}

/** mulberry32: tiny, fast, and the same sequence on every machine. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += (this.int(0x10000) | 0x10000).toString(16).slice(1);
    return out.slice(0, length);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

const WORDS = ['archon', 'vector', 'embedding', 'postgres', 'supabase', 'crawl', 'chunk', 'index', 'query', 'agent',
  'task', 'project', 'knowledge', 'source', 'document', 'retrieval', 'search', 'model', 'token', 'context', 'the',
  'and', 'of', 'to', 'in', 'with', 'for', 'data', 'copy', 'stream', 'sync', 'local', 'remote', 'pipeline'];
// Values that break naive escaping or encoding: unicode, quotes, backslashes, tabs, CR/LF, COPY's own markers.
const TRICKY = ['café', 'naïve', 'Ærøskøbing', '日本語のテキスト', '中文字符', '한국어', '🚀', '👩‍💻', '"double"', "'single'",
  'back\\slash', 'C:\\path\\to\\file', 'tab\there', 'line\nbreak', 'cr\r\nlf', '\\N', '\\.', 'semi;colon', '{"json": "in text"}',
  'NULL', '<b>html</b>', '${template}', 'zero\u200bwidth', 'ß∂ƒ©˙∆˚¬', 'ℵ₀ ≠ ∞'];

const BASE_TIME = Date.UTC(2025, 0, 1);

class Values {
  constructor(readonly random: Random) {}

  text(minBytes: number, maxBytes: number): string {
    const target = this.random.between(minBytes, maxBytes);
    const parts: string[] = [];
    let size = 0;
    while (size < target) {
      const piece = this.random.chance(0.08) ? this.random.pick(TRICKY) : this.random.pick(WORDS);
      parts.push(piece);
      size += piece.length + 1;
    }
    return parts.join(this.random.chance(0.5) ? ' ' : '  ');
  }

  words(count: number): string {
    return Array.from({ length: count }, () => this.random.pick(WORDS)).join(' ');
  }

  /** A timestamptz with microseconds, within 2025. */
  timestamp(): string {
    const micros = this.random.int(1_000_000);
    const date = new Date(BASE_TIME + this.random.int(365 * 24 * 3600) * 1000);
    return `${date.toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}+00`;
  }

  date(): string {
    return new Date(BASE_TIME + this.random.int(730) * 86_400_000).toISOString().slice(0, 10);
  }

  /** A float32-representable vector in pgvector's text form. */
  vector(dimensions: number): string {
    const components = new Array<number>(dimensions);
    for (let i = 0; i < dimensions; i++) components[i] = Math.fround((this.random.int(2_000_001) - 1_000_000) / 1_000_000);
    return pgvector.toSql(components) as string;
  }

  json(value: unknown): string {
    return JSON.stringify(value);
  }
}

type Cell = string | number | boolean | null;

/** COPY text format: backslash escapes for the four characters that frame rows and fields; \N is NULL. */
function copyField(value: Cell): string {
  if (value === null) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text;
}

async function load(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<Cell[]>): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)) as Writable;
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  let count = 0;
  let batch: string[] = [];
  let batchBytes = 0;
  for (const row of rows) {
    const line = `${row.map(copyField).join('\t')}\n`;
    batch.push(line);
    batchBytes += line.length;
    count += 1;
    if (batchBytes > 1 << 20) {
      if (!stream.write(batch.join(''))) await new Promise((resolve) => stream.once('drain', resolve));
      batch = [];
      batchBytes = 0;
    }
  }
  stream.end(batch.join(''));
  await done;
  return count;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

const DIMENSIONS = [384, 768, 1024, 3072, 3584] as const;

/** Fills the 17 (empty) Archon tables. Returns rows per table. */
export async function generateArchonData(client: pg.ClientBase, options: GenerateOptions = {}): Promise<Record<string, number>> {
  const seed = options.seed ?? 1;
  const scale = options.scale ?? 1;
  const random = new Random(seed);
  const v = new Values(random);
  const scaled = (base: number, minimum: number) => Math.max(minimum, Math.round(base * scale));
  const counts: Record<string, number> = {};
  const done = (table: string, rows: number) => {
    counts[table] = rows;
    options.onTable?.(table, rows);
  };

  done('archon_settings', await load(client, 'archon_settings',
    ['id', 'key', 'value', 'encrypted_value', 'is_encrypted', 'category', 'description', 'created_at', 'updated_at'],
    (function* () {
      for (const i of range(78)) {
        const encrypted = i % 9 === 0;
        yield [random.uuid(), `${random.pick(['OPENAI', 'RAG', 'CRAWL', 'UI', 'MCP'])}_SETTING_${i}`, encrypted ? null : v.text(5, 80),
          encrypted ? `gAAAAA${random.hex(120)}==` : null, encrypted, random.pick(['rag_strategy', 'api_keys', 'features', 'crawl', null]),
          random.chance(0.7) ? v.text(20, 200) : null, v.timestamp(), v.timestamp()];
      }
    })()));

  done('archon_migrations', await load(client, 'archon_migrations', ['id', 'version', 'migration_name', 'applied_at', 'checksum'],
    (function* () {
      for (const i of range(28)) yield [random.uuid(), `0.${Math.floor(i / 8)}.${i % 8}`, `${String(i).padStart(3, '0')}_${v.words(3).replace(/ /g, '_')}`, v.timestamp(), random.chance(0.8) ? random.hex(32) : null];
    })()));

  done('archon_prompts', await load(client, 'archon_prompts', ['id', 'prompt_name', 'prompt', 'description', 'created_at', 'updated_at'],
    (function* () {
      for (const name of ['document_builder', 'prp_creator', 'code_summarizer']) yield [random.uuid(), name, v.text(2000, 4000), v.text(10, 80), v.timestamp(), v.timestamp()];
    })()));

  done('archon_llm_pricing', await load(client, 'archon_llm_pricing',
    ['id', 'model_name', 'provider', 'input_price_per_1k', 'output_price_per_1k', 'effective_date', 'notes'],
    (function* () {
      for (const i of range(11)) {
        yield [i + 1, `model-${random.pick(['gpt', 'claude', 'gemini', 'llama'])}-${i}`, random.pick(['openai', 'anthropic', 'google', 'ollama']),
          (random.int(100_000_000) / 1_000_000).toFixed(6), (random.int(100_000_000) / 1_000_000).toFixed(6), v.date(), random.chance(0.5) ? v.text(5, 60) : null];
      }
    })()));

  const repositories = Array.from({ length: 4 }, (_, i) => `https://github.com/owner${i}-${random.hex(4)}/repo-${i}`);
  done('archon_configured_repositories', await load(client, 'archon_configured_repositories',
    ['id', 'repository_url', 'display_name', 'owner', 'default_branch', 'is_verified', 'last_verified_at', 'default_sandbox_type', 'default_commands', 'created_at', 'updated_at'],
    repositories.map((url, i) => [random.uuid(), url, `Repo ${i} ✓`, `owner${i}`, random.pick(['main', 'develop']), random.chance(0.5),
      random.chance(0.5) ? v.timestamp() : null, random.pick(['git_worktree', 'full_clone', 'tmp_dir']),
      v.json(['create-branch', 'planning', 'execute']), v.timestamp(), v.timestamp()])));

  const workOrders = Array.from({ length: 5 }, () => `wo-${random.hex(12)}`);
  done('archon_agent_work_orders', await load(client, 'archon_agent_work_orders',
    ['agent_work_order_id', 'repository_url', 'sandbox_identifier', 'git_branch_name', 'agent_session_id', 'status', 'metadata', 'created_at', 'updated_at'],
    workOrders.map((id) => [id, random.pick(repositories), `sandbox-${random.hex(8)}`, random.chance(0.7) ? `feat/${v.words(2).replace(/ /g, '-')}` : null,
      random.chance(0.5) ? random.uuid() : null, random.pick(['pending', 'running', 'completed', 'failed']), v.json({ attempt: random.int(4), note: v.text(5, 40) }),
      v.timestamp(), v.timestamp()])));

  done('archon_agent_work_order_steps', await load(client, 'archon_agent_work_order_steps',
    ['id', 'agent_work_order_id', 'step', 'agent_name', 'success', 'output', 'error_message', 'duration_seconds', 'session_id', 'executed_at', 'step_order'],
    (function* () {
      for (const i of range(12)) {
        const success = random.chance(0.8);
        yield [random.uuid(), random.pick(workOrders), random.pick(['create-branch', 'planning', 'execute', 'commit']), random.pick(['planner', 'coder']),
          success, v.text(50, 600), success ? null : v.text(20, 120), random.int(100_000_000) / 997, random.chance(0.5) ? random.hex(16) : null, v.timestamp(), i];
      }
    })()));

  // Projects: one gets a NULL hierarchy_path, which the insert trigger would fill in, so a copy that lets the
  // trigger fire is caught. The trigger is kept off while generating for the same reason.
  const projects = Array.from({ length: 13 }, () => random.uuid());
  await client.query('ALTER TABLE archon_projects DISABLE TRIGGER trigger_update_project_hierarchy_path');
  done('archon_projects', await load(client, 'archon_projects',
    ['id', 'title', 'description', 'docs', 'features', 'data', 'github_repo', 'pinned', 'created_at', 'updated_at', 'archived', 'archived_at', 'archived_by', 'hierarchy_path'],
    projects.map((id, i) => {
      const archived = i % 5 === 4;
      return [id, `Project ${i}: ${v.text(5, 40)}`, v.text(0, 400), v.json([{ id: random.uuid(), title: v.text(5, 30), content: { body: v.text(50, 500) } }]),
        v.json([v.words(2), v.words(3)]), v.json([]), random.chance(0.5) ? random.pick(repositories) : null, random.chance(0.2),
        v.timestamp(), v.timestamp(), archived, archived ? v.timestamp() : null, archived ? 'User' : null,
        i === 0 ? null : `root.team_${i % 3}.proj_${i}`];
    })));
  await client.query('ALTER TABLE archon_projects ENABLE TRIGGER trigger_update_project_hierarchy_path');

  const sources = Array.from({ length: 44 }, () => random.hex(16));
  done('archon_sources', await load(client, 'archon_sources',
    ['source_id', 'source_url', 'source_display_name', 'summary', 'total_word_count', 'title', 'metadata', 'created_at', 'updated_at'],
    sources.map((id, i) => [id, `https://docs${i}.example.com/`, random.chance(0.8) ? `Docs ${i} — ${random.pick(TRICKY)}` : null, v.text(100, 800),
      random.int(1_000_000), v.text(5, 40), v.json({ knowledge_type: random.pick(['technical', 'business']), tags: [v.words(1), random.pick(TRICKY)], source_type: 'url', depth: random.int(4) }),
      v.timestamp(), v.timestamp()])));

  done('archon_project_sources', await load(client, 'archon_project_sources', ['id', 'project_id', 'source_id', 'linked_at', 'created_by', 'notes'],
    (function* () {
      const seen = new Set<string>();
      for (const _ of range(10)) {
        const project = random.pick(projects);
        // source_id has no FK in Archon: some links point at sources that do not exist.
        const source = random.chance(0.9) ? random.pick(sources) : random.hex(16);
        if (seen.has(project + source)) continue;
        seen.add(project + source);
        yield [random.uuid(), project, source, v.timestamp(), random.pick(['system', 'User']), random.chance(0.5) ? v.text(5, 100) : null];
      }
    })()));

  const pageCount = scaled(1000, 10);
  const pages = Array.from({ length: pageCount }, () => random.uuid());
  done('archon_page_metadata', await load(client, 'archon_page_metadata',
    ['id', 'source_id', 'url', 'full_content', 'section_title', 'section_order', 'word_count', 'char_count', 'chunk_count', 'created_at', 'updated_at', 'metadata'],
    (function* () {
      for (const [i, id] of pages.entries()) {
        const content = v.text(1000, 6000);
        yield [id, random.pick(sources), `https://docs.example.com/page/${i}`, content, random.chance(0.7) ? v.text(5, 50) : null, random.int(20),
          content.split(' ').length, content.length, random.int(12), v.timestamp(), v.timestamp(), v.json({ crawl: { depth: random.int(3) }, title: v.words(3) })];
      }
    })()));

  const embeddingRow = (): Cell[] => {
    const dimension = random.chance(0.8) ? 1536 : random.pick(DIMENSIONS);
    const all = [384, 768, 1024, 1536, 3072];
    return [...all.map((d) => (d === dimension ? v.vector(d) : null)), random.pick(['gpt-4o-mini', 'claude-3-haiku', null]),
      `text-embedding-${dimension}`, dimension, dimension === 3584 ? v.vector(3584) : null];
  };
  const vectorColumns = ['embedding_384', 'embedding_768', 'embedding_1024', 'embedding_1536', 'embedding_3072', 'llm_chat_model', 'embedding_model', 'embedding_dimension', 'embedding_3584'];

  const crawledCount = scaled(50_000, 20);
  done('archon_crawled_pages', await load(client, 'archon_crawled_pages',
    ['id', 'url', 'chunk_number', 'content', 'metadata', 'source_id', 'created_at', 'page_id', ...vectorColumns],
    (function* () {
      for (const i of range(crawledCount)) {
        yield [i + 1, `https://docs.example.com/${i % 97}/page-${Math.floor(i / 5)}`, i % 5, v.text(1000, 4000),
          v.json({ headers: v.words(2), chunk_size: random.int(5000), url_path: `/p/${i}` }), random.pick(sources), v.timestamp(),
          random.chance(0.85) ? random.pick(pages) : null, ...embeddingRow()];
      }
    })()));

  const codeCount = scaled(500, 10);
  done('archon_code_examples', await load(client, 'archon_code_examples',
    ['id', 'url', 'chunk_number', 'content', 'summary', 'metadata', 'source_id', 'created_at', ...vectorColumns],
    (function* () {
      for (const i of range(codeCount)) {
        const code = `function f${i}(x) {\n\treturn x.replace(/\\\\/g, "\\\\\\\\"); // ${v.text(20, 200)}\n}\n${v.text(500, 3000)}`;
        yield [i + 1, `https://code.example.com/${i % 31}/example-${Math.floor(i / 3)}`, i % 3, code, v.text(50, 300),
          v.json({ language: random.pick(['typescript', 'python', 'sql']), lines: random.int(200) }), random.pick(sources), v.timestamp(), ...embeddingRow()];
      }
    })()));

  const bigResults = Array.from({ length: 800 }, (_, i) => ({ url: `https://docs.example.com/r/${i}`, ok: i % 7 !== 0, title: v.text(40, 100), links: [v.words(2), v.words(2)] }));
  done('archon_crawl_state', await load(client, 'archon_crawl_state',
    ['id', 'progress_id', 'source_id', 'crawl_type', 'status', 'crawl_results', 'pending_urls', 'visited_urls', 'current_depth', 'max_depth',
      'pages_crawled', 'total_pages', 'progress_percent', 'original_request', 'paused_at', 'resumed_at', 'created_at', 'updated_at'],
    (function* () {
      for (const i of range(4)) {
        const urls = Array.from({ length: 5 }, (_, j) => `https://docs.example.com/q/${i}/${j}`);
        yield [random.uuid(), `progress-${random.hex(10)}`, random.chance(0.8) ? random.pick(sources) : null, random.pick(['recursive', 'sitemap']),
          random.pick(['paused', 'resumed', 'running']), v.json(i === 0 ? bigResults : []),
          // Archon writes some of these as already-serialized JSON, i.e. jsonb string scalars.
          i % 2 === 0 ? v.json(JSON.stringify(urls)) : v.json(urls), i % 2 === 1 ? v.json(JSON.stringify(urls.slice(0, 2))) : v.json(urls.slice(0, 2)),
          random.int(3), random.chance(0.5) ? 3 : null, random.int(500), random.int(1000), random.int(101),
          v.json({ url: `https://docs${i}.example.com`, max_depth: 3, options: { 'ünïcode': '✓', quote: '"' } }),
          random.chance(0.5) ? v.timestamp() : null, random.chance(0.5) ? v.timestamp() : null, v.timestamp(), v.timestamp()];
      }
    })()));

  const taskCount = scaled(260, 20);
  const tasks: { id: string; project: string }[] = [];
  done('archon_tasks', await load(client, 'archon_tasks',
    ['id', 'project_id', 'parent_task_id', 'title', 'description', 'status', 'assignee', 'task_order', 'priority', 'feature', 'sources', 'code_examples',
      'archived', 'archived_at', 'archived_by', 'created_at', 'updated_at', 'completed_at', 'completed_by', 'sprint_id', 'workflow_stage_id',
      'story_points', 'time_estimate_hours', 'time_spent_hours', 'due_date'],
    (function* () {
      for (const i of range(taskCount)) {
        const id = random.uuid();
        const project = random.pick(projects);
        // A parent in the same project, often itself a child: hierarchies two or more levels deep.
        const siblings = tasks.filter((t) => t.project === project);
        const parent = siblings.length > 0 && random.chance(0.4) ? random.pick(siblings).id : null;
        tasks.push({ id, project });
        const status = random.pick(['todo', 'doing', 'review', 'done']);
        const archived = random.chance(0.1);
        yield [id, project, parent, `Task ${i}: ${v.text(5, 60)}`, v.text(0, 800), status, random.pick(['User', 'Archon', 'AI IDE Agent', 'Zoë']), random.int(100),
          random.pick(['low', 'medium', 'high', 'critical']), random.chance(0.6) ? v.words(2) : null,
          v.json(random.chance(0.5) ? [{ url: `https://docs.example.com/${i}`, type: 'documentation' }] : []), v.json([]),
          archived, archived ? v.timestamp() : null, archived ? 'User' : null, v.timestamp(), v.timestamp(),
          status === 'done' ? v.timestamp() : null, status === 'done' ? 'User' : null, null, null,
          random.chance(0.7) ? random.int(13) : null, random.chance(0.6) ? (random.between(1, 4000) / 100).toFixed(2) : null,
          (random.int(4000) / 100).toFixed(2), random.chance(0.5) ? v.date() : null];
      }
    })()));

  const historyCount = scaled(700, 20);
  done('archon_task_history', await load(client, 'archon_task_history',
    ['id', 'task_id', 'field_name', 'old_value', 'new_value', 'changed_by', 'changed_at', 'change_reason'],
    (function* () {
      for (const _ of range(historyCount)) {
        yield [random.uuid(), random.pick(tasks).id, random.pick(['status', 'assignee', 'priority', 'title', 'description']),
          random.chance(0.9) ? v.text(2, 40) : null, v.text(2, 40), random.pick(['system', 'User']), v.timestamp(), random.chance(0.3) ? v.text(5, 80) : null];
      }
    })()));

  done('archon_document_versions', await load(client, 'archon_document_versions',
    ['id', 'project_id', 'task_id', 'field_name', 'version_number', 'content', 'change_summary', 'change_type', 'document_id', 'created_by', 'created_at'],
    (function* () {
      for (const i of range(8)) {
        const forProject = i % 2 === 0;
        yield [random.uuid(), forProject ? random.pick(projects) : null, forProject ? null : random.pick(tasks).id, random.pick(['docs', 'features', 'data']),
          i + 1, v.json({ blocks: [{ type: 'text', text: v.text(100, 1000) }], nested: { deep: { deeper: [1, 2.5, null, true, 'ß'] } } }),
          random.chance(0.5) ? v.text(5, 80) : null, random.pick(['create', 'update', 'restore']), random.chance(0.5) ? random.uuid() : null, 'system', v.timestamp()];
      }
    })()));

  // Serial ids were given explicitly; move the sequences so later inserts (by Archon or a test) do not collide.
  for (const table of ['archon_crawled_pages', 'archon_code_examples', 'archon_llm_pricing']) {
    await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
  }
  return counts;
}
