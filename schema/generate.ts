// Fills the 17 Archon tables with realistic, awkward data that is a pure function of (seed, scale).

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { toSql as vectorToSql } from 'pgvector';
import { ARCHON_TABLES } from '../src/engine/tables.js';

export interface GenerateOptions {
  /** Default 1. The same seed and scale always produce byte-identical data. */
  seed?: number;
  /** Default 1: about 50,000 archon_crawled_pages rows, the other tables in Archon's proportions. */
  scale?: number;
  /** Called after each table is loaded. */
  onTable?: (table: string, rows: number) => void;
  /**
   * Default true. False leaves the larger tables without their plain secondary indexes (they are dropped for
   * the load and not rebuilt): a source that is only ever read by COPY does not need them, and building the
   * vector and trigram ones is most of the generation time.
   */
  secondaryIndexes?: boolean;
}

/** The 17 tables, parents before children (the fact sheet's load order). */
export { ARCHON_TABLES };

/**
 * Rows at scale 1 follow the live database Archon's docs describe (crawled_pages rounded to 50k); minimums
 * keep every table non-empty and every interesting case present (all enum values, every embedding size,
 * a two-level task tree) even at tiny scales.
 */
const ROWS_AT_SCALE_1: Readonly<Record<string, { base: number; minimum: number }>> = {
  archon_settings: { base: 78, minimum: 4 },
  archon_migrations: { base: 28, minimum: 2 },
  archon_prompts: { base: 3, minimum: 2 },
  archon_llm_pricing: { base: 11, minimum: 2 },
  archon_configured_repositories: { base: 3, minimum: 2 },
  archon_agent_work_orders: { base: 4, minimum: 2 },
  archon_agent_work_order_steps: { base: 12, minimum: 3 },
  archon_projects: { base: 13, minimum: 3 },
  archon_sources: { base: 44, minimum: 3 },
  archon_project_sources: { base: 5, minimum: 2 },
  archon_page_metadata: { base: 1_000, minimum: 3 },
  archon_crawled_pages: { base: 50_000, minimum: 20 },
  archon_code_examples: { base: 500, minimum: 6 },
  archon_crawl_state: { base: 3, minimum: 2 },
  archon_tasks: { base: 260, minimum: 8 },
  archon_task_history: { base: 700, minimum: 4 },
  archon_document_versions: { base: 6, minimum: 2 },
};

function rowsFor(table: string, scale: number): number {
  const shape = ROWS_AT_SCALE_1[table];
  if (!shape) throw new Error(`no row count defined for ${table}`);
  return Math.max(shape.minimum, Math.round(shape.base * scale));
}

// ---------------------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------------------

/**
 * sfc32 seeded through FNV-1a and a splitmix step. Only 32-bit integer arithmetic, so every machine and Node
 * version draws the same numbers; the 128-bit state keeps the per-table streams from overlapping.
 */
class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seedText: string) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < seedText.length; i++) {
      hash ^= seedText.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    const splitmix = (): number => {
      hash = (hash + 0x9e3779b9) | 0;
      let z = hash;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 16; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return itemAt(items, Math.floor(this.next() * items.length));
  }

  /** The value, or NULL with the given probability: nullable columns should sometimes be NULL. */
  orNull<T>(probability: number, value: () => T): T | null {
    return this.chance(probability) ? null : value();
  }

  hex(length: number): string {
    let text = '';
    while (text.length < length) text += this.uint32().toString(16).padStart(8, '0');
    return text.slice(0, length);
  }
}

function itemAt<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new RangeError(`index ${index} outside a list of ${items.length}`);
  return item;
}

// ---------------------------------------------------------------------------------------------------------
// Values in the text form COPY and the column types expect
// ---------------------------------------------------------------------------------------------------------

/** A version-4-shaped uuid, from the generator rather than the server so reruns match. */
function uuid(random: SeededRandom): string {
  const hex = random.hex(32);
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

// Every timestamp is an offset from here, in microseconds, so copies can be checked to the microsecond.
const BASE_TIME_MS = Date.UTC(2025, 4, 1);
const MICROS_PER_HOUR = 3_600_000_000;
const MICROS_PER_DAY = 24 * MICROS_PER_HOUR;

/** A moment between fromDay and toDay days after the base date, with a random microsecond part. */
function momentBetween(random: SeededRandom, fromDay: number, toDay: number): number {
  return Math.floor(fromDay * MICROS_PER_DAY + random.next() * (toDay - fromDay) * MICROS_PER_DAY);
}

function momentAfter(random: SeededRandom, start: number, maxHours: number): number {
  return start + Math.floor(random.next() * maxHours * MICROS_PER_HOUR);
}

function timestamptz(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  const iso = new Date(BASE_TIME_MS + seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(fraction).padStart(6, '0')}+00`;
}

function isoDate(dayOffset: number): string {
  return new Date(BASE_TIME_MS + dayOffset * 86_400_000).toISOString().slice(0, 10);
}

/** numeric(p, scale) text built from an integer count of the smallest unit: no float rounding involved. */
function fixedPoint(units: number, scale: number): string {
  const divisor = 10 ** scale;
  const sign = units < 0 ? '-' : '';
  const magnitude = Math.abs(units);
  return `${sign}${Math.floor(magnitude / divisor)}.${String(magnitude % divisor).padStart(scale, '0')}`;
}

const bool = (value: boolean): string => (value ? 't' : 'f');
const json = (value: unknown): string => JSON.stringify(value);

/**
 * Embeddings drawn around a fixed set of topic centroids per size, the way real chunk embeddings cluster by
 * subject (and chunks of one page sit close together). Besides realism this matters for speed: an HNSW
 * build over structureless uniform noise is the worst case and takes several times longer.
 */
class EmbeddingSpace {
  static readonly TOPICS = 48;
  // Spread of a chunk around its topic, relative to the spread of the topics themselves.
  private static readonly NOISE = 0.5;
  private readonly centroids = new Map<number, Float64Array[]>();

  constructor(private readonly seed: number) {}

  /**
   * Components have at most six significant digits, so they survive float32 storage and read back as the
   * same decimal text; the scaling gives vectors of norm close to 1, like real embedding models.
   */
  vector(random: SeededRandom, dimension: number, topic: number): string {
    const centroid = itemAt(this.topicsOf(dimension), topic % EmbeddingSpace.TOPICS);
    const scale = 1e6 / Math.sqrt((dimension * (1 + EmbeddingSpace.NOISE ** 2)) / 3);
    const components = new Array<number>(dimension);
    for (let k = 0; k < dimension; k++) {
      const noise = (random.next() * 2 - 1) * EmbeddingSpace.NOISE;
      components[k] = Math.round(((centroid[k] ?? 0) + noise) * scale) / 1e6;
    }
    const text = vectorToSql(components);
    if (text === null) throw new TypeError('pgvector returned no text for an embedding');
    return text;
  }

  private topicsOf(dimension: number): Float64Array[] {
    let topics = this.centroids.get(dimension);
    if (!topics) {
      // Seeded apart from any table, so crawled pages and code examples share one topic space per model.
      const random = new SeededRandom(`${this.seed}/topics/${dimension}`);
      topics = Array.from({ length: EmbeddingSpace.TOPICS }, () => Float64Array.from({ length: dimension }, () => random.next() * 2 - 1));
      this.centroids.set(dimension, topics);
    }
    return topics;
  }
}

const EMBEDDING_SIZES = [384, 768, 1024, 1536, 3072, 3584] as const;
const EMBEDDING_MODELS: Readonly<Record<number, string>> = {
  384: 'sentence-transformers/all-MiniLM-L6-v2',
  768: 'nomic-embed-text',
  1024: 'mxbai-embed-large',
  1536: 'text-embedding-3-small',
  3072: 'text-embedding-3-large',
  3584: 'Qwen/Qwen3-Embedding-8B',
};

/** Most chunks use the default 1536-d model; the first rows take each size once so small scales cover all. */
function embeddingSize(random: SeededRandom, row: number): number {
  if (row < EMBEDDING_SIZES.length) return itemAt(EMBEDDING_SIZES, row);
  return random.chance(0.8) ? 1536 : random.pick([384, 768, 1024, 3072, 3584]);
}

/** The six embedding columns of a chunk: exactly one filled. */
function embeddingCells(space: EmbeddingSpace, random: SeededRandom, size: number, topic: number): Cell[] {
  return EMBEDDING_SIZES.map((candidate) => (candidate === size ? space.vector(random, size, topic) : null));
}

// ---------------------------------------------------------------------------------------------------------
// Text: prose and code with everything that trips up escaping and encodings
// ---------------------------------------------------------------------------------------------------------

const PLAIN_WORDS = (
  'the a of to and in is for with that on as by this from are be it or can an data vector index query ' +
  'table row column embedding search crawl page chunk source document project task agent model server client ' +
  'request response token database schema migration sync copy stream batch cursor transaction commit rollback ' +
  'latency throughput memory cache pooler replica primary function trigger sequence constraint foreign key ' +
  'returns value default settings configure deploy container docker supabase postgres python typescript react ' +
  'component hook state props render async await promise error retry timeout backoff knowledge base retrieval ' +
  'hybrid rerank cosine similarity distance nearest neighbours cluster list probe graph layer insert update delete'
).split(' ');

// Things real crawled pages contain and naive escaping gets wrong: accents, combining marks, CJK, RTL,
// emoji (ZWJ sequences and flags), quotes of every kind, backslashes, COPY's own \N, and look-alike nulls.
const AWKWARD_WORDS = [
  'café', 'naïve', 'Zürich', 'façade', 'Ångström', 'Straße', 'señor', 'Mötley', 'e\u0301clair',
  'Ελληνικά', 'русский', 'עברית', 'العربية', '数据库', '向量检索', '日本語のテキスト', '한국어', 'ไทย',
  '🚀', '👩‍💻', '🇩🇪', '✅', '🧪', '😀', '—', '…', '“smart quotes”', '‘single’', '«guillemets»',
  "it's", "don't", "O'Reilly", '"quoted"', "'single'", '\\N', 'NULL', 'null', '\\', 'C:\\Users\\archon',
  'back\\slash', '\\n', 'regex\\d+\\.\\w*', '100%', '$HOME', '<div class="note">', '&amp;', '{"k": 1}',
  '[1, 2]', '\u00a0nbsp', 'zero\u200bwidth', 'a\u0007bell', 'a\u001bescape', '💡tip',
];

const SENTENCE_ENDINGS = ['. ', '. ', '. ', '? ', '! ', '.\n', '.\r\n', '.\n\n', ':\n\t- ', '; ', '.\t'];

/** Prose of roughly minLength..maxLength characters. */
function prose(random: SeededRandom, minLength: number, maxLength: number): string {
  const target = random.int(minLength, maxLength);
  const parts: string[] = [];
  let length = 0;
  while (length < target) {
    const words = random.int(5, 18);
    for (let w = 0; w < words; w++) {
      const word = random.chance(0.06) ? random.pick(AWKWARD_WORDS) : random.pick(PLAIN_WORDS);
      parts.push(word, w === words - 1 ? random.pick(SENTENCE_ENDINGS) : ' ');
      length += word.length + 1;
    }
  }
  return parts.join('');
}

function phrase(random: SeededRandom, minWords: number, maxWords: number): string {
  const words: string[] = [];
  const count = random.int(minWords, maxWords);
  for (let w = 0; w < count; w++) words.push(random.chance(0.1) ? random.pick(AWKWARD_WORDS) : random.pick(PLAIN_WORDS));
  return words.join(' ');
}

function slug(random: SeededRandom): string {
  return `${random.pick(PLAIN_WORDS)}-${random.pick(PLAIN_WORDS)}`;
}

const IDENTIFIERS = ['fetch_pages', 'embedChunk', 'source_id', 'crawlState', 'données', 'vectorStore', 'retry_after', 'parse_url', 'señal', 'buildIndex'];

// Lines of Python, TypeScript, SQL and shell as crawled docs show them: tabs, raw-string backslashes,
// nested quotes, template literals, Windows paths, SQL with quoted identifiers.
const CODE_LINES = [
  'def {id}(path: str, *, retries: int = 3) -> dict:',
  '    """Load {word} from "{word}"; returns a dict (it\'s cached)."""',
  String.raw`    pattern = re.compile(r"^\s*(\w+)\\(\d+)$")`,
  String.raw`	with open(f"C:\\data\\{id}.json", encoding="utf-8") as fh:`,
  '\t\treturn json.load(fh)  # ✅ {word}',
  'const {id} = await fetch(`https://api.example.com/v1/${encodeURIComponent(name)}?q=\'{word}\'`);',
  String.raw`const escaped = input.replace(/\\/g, "\\\\").replace(/\t/g, "\\t");`,
  "export async function {id}(client: pg.Client): Promise<void> {",
  "  await client.query(`SELECT * FROM \"{word}\" WHERE note = 'O''Reilly'`);",
  '}',
  "SELECT id, content FROM archon_crawled_pages WHERE source_id = 'src_{word}' ORDER BY embedding_1536 <=> $1 LIMIT 5;",
  String.raw`COPY t FROM STDIN; -- a literal \N here is NULL, but "\\N" is a backslash and an N`,
  String.raw`echo "path: $HOME\bin" | sed -e 's/\\/\//g' > /tmp/{id}.txt`,
  'printf "%s\\t%s\\r\\n" "{word}" "{id}"',
  '// 数据库 {word} — emoji in a comment 🚀',
  '',
];

function code(random: SeededRandom, minLength: number, maxLength: number): string {
  const target = random.int(minLength, maxLength);
  const lines: string[] = [];
  let length = 0;
  while (length < target) {
    const line = random
      .pick(CODE_LINES)
      .replaceAll('{id}', random.pick(IDENTIFIERS))
      .replaceAll('{word}', random.chance(0.2) ? random.pick(AWKWARD_WORDS) : random.pick(PLAIN_WORDS));
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join(random.chance(0.2) ? '\r\n' : '\n');
}

// ---------------------------------------------------------------------------------------------------------
// COPY text format
// ---------------------------------------------------------------------------------------------------------

type Cell = string | null;

const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function copyCell(value: Cell): string {
  if (value === null) return '\\N';
  return value.replace(COPY_SPECIALS, (special) => COPY_ESCAPES[special] ?? special);
}

// Big enough to keep per-write overhead negligible, small enough that a table is never held in memory.
const COPY_CHUNK_CHARS = 1 << 20;

/** Streams rows into one table with COPY FROM STDIN; Node's pipeline supplies the back-pressure. */
async function copyRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<readonly Cell[]>): Promise<number> {
  let count = 0;
  function* chunks(): Generator<string> {
    let pending = '';
    for (const row of rows) {
      if (row.length !== columns.length) throw new Error(`${table}: a row has ${row.length} values for ${columns.length} columns`);
      pending += row.map(copyCell).join('\t') + '\n';
      count++;
      if (pending.length >= COPY_CHUNK_CHARS) {
        yield pending;
        pending = '';
      }
    }
    if (pending.length > 0) yield pending;
  }
  await pipeline(Readable.from(chunks(), { highWaterMark: 2 }), client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)));
  return count;
}

// ---------------------------------------------------------------------------------------------------------
// The tables. Each gets its own random stream, so changing one table's generator leaves the others' data
// alone; keys that children need are kept in the Dataset as parents are generated.
// ---------------------------------------------------------------------------------------------------------

interface SourceRow { id: string; baseUrl: string; createdAt: number }
interface PageRow { id: string; url: string; source: SourceRow; chunkCount: number; createdAt: number; topic: number }
interface ProjectRow { id: string; createdAt: number }
interface TaskRow { id: string; createdAt: number; assignee: string }

interface Dataset {
  embeddings: EmbeddingSpace;
  rows: (table: string) => number;
  repositoryUrls: string[];
  workOrders: { id: string; createdAt: number }[];
  projects: ProjectRow[];
  sources: SourceRow[];
  pages: PageRow[];
  tasks: TaskRow[];
}

interface TableData { columns: readonly string[]; rows: Iterable<readonly Cell[]> }

const SETTINGS = [
  ['MODEL_CHOICE', 'rag_strategy', 'gpt-4.1-nano'],
  ['LLM_PROVIDER', 'rag_strategy', 'openai'],
  ['EMBEDDING_MODEL', 'rag_strategy', 'text-embedding-3-small'],
  ['EMBEDDING_DIMENSIONS', 'rag_strategy', '1536'],
  ['USE_HYBRID_SEARCH', 'rag_strategy', 'true'],
  ['USE_RERANKING', 'rag_strategy', 'false'],
  ['USE_AGENTIC_RAG', 'rag_strategy', 'true'],
  ['CRAWL_BATCH_SIZE', 'rag_strategy', '50'],
  ['CRAWL_MAX_CONCURRENT', 'rag_strategy', '10'],
  ['MAX_CODE_BLOCK_LENGTH', 'code_extraction', '5000'],
  ['MIN_CODE_BLOCK_LENGTH', 'code_extraction', '250'],
  ['OPENAI_API_KEY', 'api_keys', null],
  ['ANTHROPIC_API_KEY', 'api_keys', null],
  ['GOOGLE_API_KEY', 'api_keys', null],
  ['LLM_BASE_URL', 'rag_strategy', 'http://host.docker.internal:11434/v1'],
  ['LOGFIRE_ENABLED', 'monitoring', 'false'],
  ['PROJECTS_ENABLED', 'features', 'true'],
  ['DISCONNECT_SCREEN_ENABLED', 'features', 'true'],
  ['CONTEXTUAL_EMBEDDINGS_MAX_WORKERS', 'rag_strategy', '3'],
  ['RAG_PROMPT_TEMPLATE', 'rag_strategy', 'Answer using only:\n\t{context}\r\nQuestion: "{question}" — be brief\\concise'],
] as const;

function settingsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_settings');
  return table(['id', 'key', 'value', 'encrypted_value', 'is_encrypted', 'category', 'description', 'created_at', 'updated_at'], function* () {
    for (let i = 0; i < count; i++) {
      const known = SETTINGS[i];
      // The second row is always a secret, so even the smallest database has one.
      const encrypted = known ? known[2] === null : i === 1 || random.chance(0.1);
      const createdAt = momentBetween(random, 0, 30);
      yield [
        uuid(random),
        known ? known[0] : `CUSTOM_SETTING_${String(i).padStart(3, '0')}`,
        encrypted ? null : known ? known[2] : random.orNull(0.2, () => phrase(random, 1, 12)),
        encrypted ? fernetToken(random) : null,
        bool(encrypted),
        known ? known[1] : random.orNull(0.3, () => random.pick(['features', 'server_config', 'monitoring', 'rag_strategy'])),
        random.orNull(0.25, () => phrase(random, 4, 30)),
        timestamptz(createdAt),
        timestamptz(momentAfter(random, createdAt, 24 * 90)),
      ];
    }
  });
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('');

/** Looks like Fernet output ("gAAAAA" is its version byte and timestamp prefix); it decrypts to nothing. */
function fernetToken(random: SeededRandom): string {
  return `gAAAAAB${Array.from({ length: 93 }, () => random.pick(BASE64URL)).join('')}=`;
}

function migrationsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_migrations');
  const versions = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0'];
  return table(['id', 'version', 'migration_name', 'applied_at', 'checksum'], function* () {
    let appliedAt = momentBetween(random, 0, 2);
    for (let i = 0; i < count; i++) {
      appliedAt = momentAfter(random, appliedAt, 24 * 7);
      yield [
        uuid(random),
        itemAt(versions, Math.min(versions.length - 1, Math.floor((i * versions.length) / count))),
        `${String(i + 1).padStart(3, '0')}_${slug(random).replace('-', '_')}`,
        timestamptz(appliedAt),
        random.orNull(0.3, () => random.hex(32)),
      ];
    }
  });
}

function promptsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_prompts');
  const names = ['document_builder', 'feature_builder', 'data_builder'];
  return table(['id', 'prompt_name', 'prompt', 'description', 'created_at', 'updated_at'], function* () {
    for (let i = 0; i < count; i++) {
      const createdAt = momentBetween(random, 0, 10);
      yield [
        uuid(random),
        names[i] ?? `custom_prompt_${i}`,
        `SYSTEM PROMPT — {project_name}\n\n${prose(random, 1500, 4000)}\n\nReturn JSON like {"title": "…", "steps": ["a", "b"]}.`,
        random.orNull(0.3, () => phrase(random, 5, 20)),
        timestamptz(createdAt),
        timestamptz(momentAfter(random, createdAt, 24 * 60)),
      ];
    }
  });
}

function llmPricingTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_llm_pricing');
  const models = [
    ['gpt-4o', 'openai'], ['gpt-4o-mini', 'openai'], ['gpt-4.1-nano', 'openai'], ['text-embedding-3-small', 'openai'],
    ['claude-3-5-sonnet', 'anthropic'], ['claude-3-5-haiku', 'anthropic'], ['gemini-1.5-pro', 'google'],
    ['gemini-1.5-flash', 'google'], ['llama3.1:8b', 'ollama'], ['mistral-large', 'mistral'], ['deepseek-chat', 'deepseek'],
  ] as const;
  return table(['id', 'model_name', 'provider', 'input_price_per_1k', 'output_price_per_1k', 'effective_date', 'notes'], function* () {
    for (let i = 0; i < count; i++) {
      // Past the list, the same models again at a later date: a price change is a new row.
      const [model, provider] = itemAt(models, i % models.length);
      const inputMicros = random.int(0, 15_000);
      yield [
        String(i + 1),
        model,
        provider,
        fixedPoint(inputMicros, 6),
        fixedPoint(inputMicros * random.int(1, 5) + random.int(0, 999), 6),
        isoDate(Math.floor(i / models.length) * 30 + random.int(0, 29)),
        random.orNull(0.4, () => phrase(random, 3, 12)),
      ];
    }
  });
}

function configuredRepositoriesTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_configured_repositories');
  const owners = ['coleam00', 'ljutzkanovltd', 'acme-corp', 'data.team', 'my_org'];
  const commands = ['create-branch', 'planning', 'execute', 'commit', 'create-pr', 'prp-review'];
  return table(
    ['id', 'repository_url', 'display_name', 'owner', 'default_branch', 'is_verified', 'last_verified_at',
      'default_sandbox_type', 'default_commands', 'created_at', 'updated_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        const owner = random.pick(owners);
        const repository = `${slug(random)}-${i}`;
        const url = `https://github.com/${owner}/${repository}`;
        data.repositoryUrls.push(url);
        const verified = random.chance(0.6);
        const createdAt = momentBetween(random, 100, 150);
        yield [
          uuid(random),
          url,
          random.orNull(0.3, () => `${owner}/${repository}`),
          random.orNull(0.2, () => owner),
          random.orNull(0.2, () => random.pick(['main', 'develop', 'release/2.0'])),
          bool(verified),
          verified ? timestamptz(momentAfter(random, createdAt, 48)) : null,
          random.pick(['git_worktree', 'full_clone', 'tmp_dir']),
          json(commands.slice(0, random.int(1, commands.length))),
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 24 * 30)),
        ];
      }
    },
  );
}

function agentWorkOrdersTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_agent_work_orders');
  return table(
    ['agent_work_order_id', 'repository_url', 'sandbox_identifier', 'git_branch_name', 'agent_session_id', 'status', 'metadata', 'created_at', 'updated_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        const id = `wo_${random.hex(16)}`;
        const createdAt = momentBetween(random, 150, 200);
        data.workOrders.push({ id, createdAt });
        // No FK to configured repositories: some orders name a repository that was never configured.
        const repository = random.chance(0.75) ? random.pick(data.repositoryUrls) : `https://github.com/elsewhere/${slug(random)}`;
        yield [
          id,
          repository,
          `sandbox-${id}`,
          random.orNull(0.3, () => `feat/${slug(random)}-${i}`),
          random.orNull(0.4, () => uuid(random)),
          itemAt(['pending', 'running', 'completed', 'failed'], i % 4),
          json({
            workflow: random.pick(['plan_execute', 'prp', 'fix-issue']),
            github_issue_number: random.orNull(0.5, () => random.int(1, 5000)),
            user_request: prose(random, 100, 600),
            nested: { attempts: random.int(0, 3), labels: ['bug', 'ünïcödé', '🚀'] },
          }),
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 12)),
        ];
      }
    },
  );
}

function agentWorkOrderStepsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_agent_work_order_steps');
  const steps = ['create-branch', 'planning', 'execute', 'commit', 'create-pr', 'prp-review'];
  return table(
    ['id', 'agent_work_order_id', 'step', 'agent_name', 'success', 'output', 'error_message', 'duration_seconds',
      'session_id', 'executed_at', 'step_order'],
    function* () {
      for (let i = 0; i < count; i++) {
        const order = itemAt(data.workOrders, i % data.workOrders.length);
        const stepOrder = Math.floor(i / data.workOrders.length);
        const success = random.chance(0.8);
        yield [
          uuid(random),
          order.id,
          itemAt(steps, stepOrder % steps.length),
          random.pick(['BranchCreator', 'Planner', 'Implementor', 'Committer', 'PrCreator']),
          bool(success),
          random.orNull(0.2, () => prose(random, 200, 2500)),
          success ? null : `Command failed: exit status 1\n${phrase(random, 5, 20)}`,
          // Milliseconds only: a float8 with three decimals reads back as exactly what was written.
          String(random.int(50, 900_000) / 1000),
          random.orNull(0.3, () => uuid(random)),
          timestamptz(momentAfter(random, order.createdAt, 2) + stepOrder * MICROS_PER_HOUR),
          String(stepOrder + 1),
        ];
      }
    },
  );
}

function projectsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_projects');
  return table(
    ['id', 'title', 'description', 'docs', 'features', 'data', 'github_repo', 'pinned', 'created_at', 'updated_at',
      'archived', 'archived_at', 'archived_by', 'hierarchy_path'],
    function* () {
      for (let i = 0; i < count; i++) {
        const id = uuid(random);
        const createdAt = momentBetween(random, 20, 120);
        data.projects.push({ id, createdAt });
        const archived = i > 0 && random.chance(0.15);
        // Deliberately not what the insert trigger would compute, so a copy that lets the trigger run
        // (instead of copying the value) is caught. Every fifth row is left NULL for the trigger to fill.
        const team = i % 3;
        const hierarchyPath = i % 5 === 4 ? null : i % 2 === 0 ? `root.team_${team}.proj_${i}` : `root.team_${team}.proj_${i - 1}.sub_${i}`;
        yield [
          id,
          `${phrase(random, 2, 6)} #${i}`,
          random.chance(0.15) ? '' : prose(random, 50, 800),
          json([
            { id: uuid(random), title: 'PRD', document_type: 'prd', content: { goals: [phrase(random, 3, 10), phrase(random, 3, 10)], notes: prose(random, 200, 1500) } },
            ...(random.chance(0.5) ? [{ id: uuid(random), title: 'Architecture — ünïcödé 🚀', content: { layers: ['cli', 'engine', 'pg'], depth: { level: { deeper: [1, 2.5, -3, null, true] } } } }] : []),
          ]),
          json(Array.from({ length: random.int(0, 4) }, (_, k) => ({ name: `feature ${k}`, status: random.pick(['planned', 'done']) }))),
          random.chance(0.3) ? '[]' : json([{ metric: 'coverage', value: random.int(0, 100) / 10 }]),
          random.orNull(0.4, () => `https://github.com/${random.pick(['acme', 'coleam00'])}/${slug(random)}`),
          bool(random.chance(0.2)),
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 24 * 60)),
          bool(archived),
          archived ? timestamptz(momentAfter(random, createdAt, 24 * 90)) : null,
          archived ? random.pick(['User', 'admin@example.com']) : null,
          hierarchyPath,
        ];
      }
    },
  );
}

function sourcesTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_sources');
  const domains = ['docs.python.org', 'supabase.com/docs', 'react.dev', 'ai.pydantic.dev', 'docs.crawl4ai.com', 'münchen.example.de', '例え.jp'];
  return table(
    ['source_id', 'source_url', 'source_display_name', 'summary', 'total_word_count', 'title', 'metadata', 'created_at', 'updated_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        const id = random.hex(16);
        const baseUrl = `https://${random.pick(domains)}/s${i}`;
        const createdAt = momentBetween(random, 10, 100);
        data.sources.push({ id, baseUrl, createdAt });
        const knowledgeType = random.pick(['technical', 'business']);
        yield [
          id,
          random.orNull(0.1, () => baseUrl),
          random.orNull(0.2, () => `${phrase(random, 1, 4)} docs`),
          random.orNull(0.1, () => prose(random, 200, 1200)),
          String(random.int(0, 2_000_000)),
          random.orNull(0.1, () => phrase(random, 2, 8)),
          json({
            knowledge_type: knowledgeType,
            source_type: random.pick(['url', 'file']),
            tags: Array.from({ length: random.int(0, 4) }, () => random.pick(PLAIN_WORDS)),
            update_frequency: random.pick([0, 1, 7, 30]),
            original_url: baseUrl,
            crawl: { max_depth: random.int(1, 5), llms_txt: random.chance(0.3), notes: random.pick(AWKWARD_WORDS) },
          }),
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 24 * 30)),
        ];
      }
    },
  );
}

function projectSourcesTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_project_sources');
  const projects = data.projects.length;
  return table(['id', 'project_id', 'source_id', 'linked_at', 'created_by', 'notes'], function* () {
    for (let i = 0; i < count; i++) {
      const project = itemAt(data.projects, i % projects);
      // (project, source) pairs stay distinct; every fourth link names a source that no longer exists,
      // which is allowed because source_id has no FK.
      const sourceId = i % 4 === 3 ? `gone${random.hex(12)}` : itemAt(data.sources, Math.floor(i / projects) % data.sources.length).id;
      yield [
        uuid(random),
        project.id,
        sourceId,
        timestamptz(momentAfter(random, project.createdAt, 24 * 30)),
        random.pick(['system', 'User', 'Claude Code']),
        random.orNull(0.5, () => phrase(random, 3, 15)),
      ];
    }
  });
}

function pageMetadataTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_page_metadata');
  const chunks = data.rows('archon_crawled_pages');
  return table(
    ['id', 'source_id', 'url', 'full_content', 'section_title', 'section_order', 'word_count', 'char_count',
      'chunk_count', 'created_at', 'updated_at', 'metadata'],
    function* () {
      for (let i = 0; i < count; i++) {
        // One source holds most of the pages, as in the database this models (57% of chunks in one source).
        const source = random.chance(0.57) ? itemAt(data.sources, 0) : itemAt(data.sources, random.int(1, data.sources.length - 1));
        const id = uuid(random);
        const url = `${source.baseUrl}/${slug(random)}-${i}`;
        // The chunks are spread evenly over the pages, in page order; the crawled_pages generator relies on it.
        const chunkCount = Math.floor(((i + 1) * chunks) / count) - Math.floor((i * chunks) / count);
        const createdAt = momentAfter(random, source.createdAt, 24);
        data.pages.push({ id, url, source, chunkCount, createdAt, topic: random.int(0, EmbeddingSpace.TOPICS - 1) });
        const content = prose(random, 2000, 12000);
        yield [
          id,
          source.id,
          url,
          content,
          random.orNull(0.2, () => `## ${phrase(random, 1, 5)}`),
          String(random.int(0, 40)),
          String(content.split(/\s+/).filter(Boolean).length),
          String([...content].length),
          String(chunkCount),
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 24 * 20)),
          json({ crawl_depth: random.int(0, 4), content_type: 'text/html; charset=utf-8', headings: [phrase(random, 1, 4), phrase(random, 1, 4)] }),
        ];
      }
    },
  );
}

const CHUNK_COLUMNS = ['embedding_384', 'embedding_768', 'embedding_1024', 'embedding_1536', 'embedding_3072', 'embedding_3584'];

function crawledPagesTable(data: Dataset, random: SeededRandom): TableData {
  return table(
    ['id', 'url', 'chunk_number', 'content', 'metadata', 'source_id', ...CHUNK_COLUMNS, 'llm_chat_model',
      'embedding_model', 'embedding_dimension', 'created_at', 'page_id'],
    function* () {
      let row = 0;
      for (const page of data.pages) {
        for (let chunk = 0; chunk < page.chunkCount; chunk++) {
          const size = embeddingSize(random, row);
          const content = prose(random, 1000, 4000);
          row++;
          yield [
            String(row),
            page.url,
            String(chunk),
            content,
            json({
              url: page.url,
              source: page.source.id,
              chunk_index: chunk,
              char_count: content.length,
              headers: random.chance(0.5) ? `# ${phrase(random, 1, 4)}; ## ${phrase(random, 1, 4)}` : '',
              contextual_embedding: random.chance(0.3),
              tags: random.chance(0.2) ? ['ünïcödé', '🚀', "it's"] : [],
            }),
            page.source.id,
            ...embeddingCells(data.embeddings, random, size, page.topic),
            random.orNull(0.3, () => random.pick(['gpt-4.1-nano', 'gpt-4o-mini', 'llama3.1:8b'])),
            itemAt(Object.values(EMBEDDING_MODELS), EMBEDDING_SIZES.indexOf(size as (typeof EMBEDDING_SIZES)[number])),
            String(size),
            timestamptz(momentAfter(random, page.createdAt, 2)),
            // Chunks crawled before page metadata existed have no page link.
            random.chance(0.08) ? null : page.id,
          ];
        }
      }
    },
  );
}

function codeExamplesTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_code_examples');
  const pages = data.pages.length;
  return table(
    ['id', 'url', 'chunk_number', 'content', 'summary', 'metadata', 'source_id', ...CHUNK_COLUMNS, 'llm_chat_model',
      'embedding_model', 'embedding_dimension', 'created_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        const page = itemAt(data.pages, i % pages);
        const size = embeddingSize(random, i);
        const language = random.pick(['python', 'typescript', 'sql', 'bash']);
        yield [
          String(i + 1),
          page.url,
          String(Math.floor(i / pages)),
          code(random, 400, 5000),
          `${phrase(random, 8, 40)} (${language})`,
          json({ language, example_name: `${random.pick(IDENTIFIERS)} — example`, code_block_index: i, context_before: phrase(random, 5, 30) }),
          page.source.id,
          ...embeddingCells(data.embeddings, random, size, page.topic),
          random.orNull(0.3, () => random.pick(['gpt-4.1-nano', 'gpt-4o-mini'])),
          itemAt(Object.values(EMBEDDING_MODELS), EMBEDDING_SIZES.indexOf(size as (typeof EMBEDDING_SIZES)[number])),
          String(size),
          timestamptz(momentAfter(random, page.createdAt, 3)),
        ];
      }
    },
  );
}

function crawlStateTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_crawl_state');
  const urls = (n: number): string[] => Array.from({ length: n }, () => `${random.pick(data.pages).url}?ref=${random.hex(6)}`);
  return table(
    ['id', 'progress_id', 'source_id', 'crawl_type', 'status', 'crawl_results', 'pending_urls', 'visited_urls',
      'current_depth', 'max_depth', 'pages_crawled', 'total_pages', 'progress_percent', 'original_request',
      'paused_at', 'resumed_at', 'created_at', 'updated_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        const status = itemAt(['paused', 'running', 'resumed'], i % 3);
        const createdAt = momentBetween(random, 200, 240);
        const pausedAt = status === 'running' ? null : momentAfter(random, createdAt, 5);
        // The first row carries a ~100 KB result set: real paused crawls keep every page's markdown here.
        const results = Array.from({ length: i === 0 ? 45 : random.int(0, 3) }, () => ({
          url: random.pick(data.pages).url,
          markdown: prose(random, 1500, 2500),
          links: { internal: urls(3), external: [] as string[] },
          status_code: 200,
        }));
        const pending = urls(random.int(0, 6));
        const visited = urls(random.int(1, 8));
        yield [
          uuid(random),
          `progress-${random.hex(8)}-${i}`,
          i === 1 ? null : random.pick(data.sources).id,
          random.pick(['recursive', 'sitemap', 'llms-txt', 'single_page']),
          status,
          json(results),
          // The app stores json.dumps() output, so these columns hold jsonb *strings* of JSON, not arrays.
          i % 2 === 0 ? json(json(pending)) : json(pending),
          i % 2 === 0 ? json(json(visited)) : json(visited),
          String(random.int(0, 3)),
          random.orNull(0.2, () => String(random.int(3, 5))),
          String(visited.length),
          String(visited.length + pending.length),
          String(random.int(0, 100)),
          json({ url: random.pick(data.sources).baseUrl, knowledge_type: 'technical', tags: ['docs', '数据'], max_depth: 3, extract_code_examples: true }),
          pausedAt === null ? null : timestamptz(pausedAt),
          status === 'resumed' && pausedAt !== null ? timestamptz(momentAfter(random, pausedAt, 48)) : null,
          timestamptz(createdAt),
          timestamptz(momentAfter(random, createdAt, 72)),
        ];
      }
    },
  );
}

const TASK_STATUSES = ['todo', 'doing', 'review', 'done'] as const;
const TASK_PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
const ASSIGNEES = ['User', 'Archon', 'AI IDE Agent', 'Claude Code', 'Zoë “QA” Müller 🧪'];

function tasksTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_tasks');
  return table(
    ['id', 'project_id', 'parent_task_id', 'title', 'description', 'status', 'assignee', 'task_order', 'priority',
      'feature', 'sources', 'code_examples', 'archived', 'archived_at', 'archived_by', 'created_at', 'updated_at',
      'completed_at', 'completed_by', 'sprint_id', 'workflow_stage_id', 'story_points', 'time_estimate_hours',
      'time_spent_hours', 'due_date'],
    function* () {
      const projectOf: (string | null)[] = [];
      for (let i = 0; i < count; i++) {
        // Tasks 1 and 2 form a chain under task 0 (two levels deep); later tasks sometimes nest under any
        // earlier one. Parents always come first, so even a FK-checked load in file order succeeds.
        const parentIndex = i === 1 || i === 2 ? i - 1 : i > 2 && random.chance(0.3) ? random.int(0, i - 1) : null;
        const parent = parentIndex === null ? null : itemAt(data.tasks, parentIndex);
        const projectId = parentIndex === null
          ? (i > 2 && random.chance(0.03) ? null : random.pick(data.projects).id)
          : (projectOf[parentIndex] ?? null);
        projectOf.push(projectId);
        const id = uuid(random);
        const assignee = random.pick(ASSIGNEES);
        const createdAt = parent ? momentAfter(random, parent.createdAt, 24 * 10) : momentBetween(random, 120, 220);
        data.tasks.push({ id, createdAt, assignee });
        // The first four rows take every enum value, so small scales still cover them all.
        const status = i < 4 ? itemAt(TASK_STATUSES, i) : random.pick(TASK_STATUSES);
        const priority = i < 4 ? itemAt(TASK_PRIORITIES, (i + 1) % 4) : random.pick(TASK_PRIORITIES);
        const archived = random.chance(0.05);
        const updatedAt = momentAfter(random, createdAt, 24 * 30);
        yield [
          id,
          projectId,
          parent?.id ?? null,
          `${phrase(random, 2, 8)} [${i}]`,
          random.chance(0.1) ? '' : prose(random, 40, 1500),
          status,
          assignee,
          String(random.int(0, 100)),
          priority,
          random.orNull(0.3, () => random.pick(['auth', 'sync', 'Knowledge Base', 'UI/UX', 'données'])),
          json(random.chance(0.5) ? [] : [{ url: random.pick(data.sources).baseUrl, type: 'documentation', relevance: 'high' }]),
          json(random.chance(0.7) ? [] : [{ file: 'src/engine/sync.ts', function: 'copyTable', purpose: phrase(random, 3, 8) }]),
          bool(archived),
          archived ? timestamptz(momentAfter(random, updatedAt, 24)) : null,
          archived ? 'User' : null,
          timestamptz(createdAt),
          timestamptz(updatedAt),
          status === 'done' ? timestamptz(updatedAt) : null,
          status === 'done' ? random.orNull(0.2, () => assignee) : null,
          // These point at archon_sprints / archon_workflow_stages, outside the 17 tables: never set.
          null,
          null,
          random.orNull(0.3, () => String(random.pick([0, 1, 2, 3, 5, 8, 13]))),
          random.orNull(0.4, () => fixedPoint(random.int(25, 4000), 2)),
          fixedPoint(random.chance(0.4) ? 0 : random.int(1, 8000), 2),
          random.orNull(0.5, () => isoDate(random.int(150, 400))),
        ];
      }
    },
  );
}

function taskHistoryTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_task_history');
  const fields = ['status', 'assignee', 'priority', 'title', 'task_order', 'feature', 'description'] as const;
  const valueOf = (field: (typeof fields)[number]): string | null => {
    switch (field) {
      case 'status': return random.pick(TASK_STATUSES);
      case 'assignee': return random.pick(ASSIGNEES);
      case 'priority': return random.pick(TASK_PRIORITIES);
      case 'title': return phrase(random, 2, 8);
      case 'task_order': return String(random.int(0, 100));
      case 'feature': return random.orNull(0.3, () => random.pick(['auth', 'sync', 'données']));
      case 'description': return prose(random, 20, 500).slice(0, 500);
    }
  };
  return table(['id', 'task_id', 'field_name', 'old_value', 'new_value', 'changed_by', 'changed_at', 'change_reason'], function* () {
    for (let i = 0; i < count; i++) {
      const task = random.pick(data.tasks);
      const field = random.pick(fields);
      yield [
        uuid(random),
        task.id,
        field,
        valueOf(field),
        valueOf(field),
        random.pick(['system', 'User', task.assignee]),
        timestamptz(momentAfter(random, task.createdAt, 24 * 40)),
        random.orNull(0.7, () => phrase(random, 3, 12)),
      ];
    }
  });
}

function documentVersionsTable(data: Dataset, random: SeededRandom): TableData {
  const count = data.rows('archon_document_versions');
  return table(
    ['id', 'project_id', 'task_id', 'field_name', 'version_number', 'content', 'change_summary', 'change_type',
      'document_id', 'created_by', 'created_at'],
    function* () {
      for (let i = 0; i < count; i++) {
        // chk_project_or_task: exactly one owner. Odd rows use the deprecated task link.
        const byTask = i % 2 === 1;
        const owner = byTask ? random.pick(data.tasks) : random.pick(data.projects);
        yield [
          uuid(random),
          byTask ? null : owner.id,
          byTask ? owner.id : null,
          random.pick(['docs', 'features', 'data', 'prd']),
          String(i + 1),
          json({
            title: phrase(random, 2, 6),
            blocks: Array.from({ length: random.int(1, 5) }, (_, k) => ({ order: k, text: prose(random, 100, 900), meta: { ok: k % 2 === 0, score: k / 4 } })),
          }),
          random.orNull(0.3, () => phrase(random, 3, 15)),
          random.pick(['update', 'create', 'restore', 'delete']),
          random.orNull(0.4, () => uuid(random)),
          random.pick(['system', 'User', 'Archon']),
          timestamptz(momentAfter(random, owner.createdAt, 24 * 30)),
        ];
      }
    },
  );
}

/** Pairs a column list with a generator function whose rows follow it. */
function table(columns: readonly string[], rows: () => Generator<readonly Cell[]>): TableData {
  return { columns, rows: { [Symbol.iterator]: rows } };
}

const TABLE_GENERATORS: Readonly<Record<string, (data: Dataset, random: SeededRandom) => TableData>> = {
  archon_settings: settingsTable,
  archon_migrations: migrationsTable,
  archon_prompts: promptsTable,
  archon_llm_pricing: llmPricingTable,
  archon_configured_repositories: configuredRepositoriesTable,
  archon_agent_work_orders: agentWorkOrdersTable,
  archon_agent_work_order_steps: agentWorkOrderStepsTable,
  archon_projects: projectsTable,
  archon_sources: sourcesTable,
  archon_project_sources: projectSourcesTable,
  archon_page_metadata: pageMetadataTable,
  archon_crawled_pages: crawledPagesTable,
  archon_code_examples: codeExamplesTable,
  archon_crawl_state: crawlStateTable,
  archon_tasks: tasksTable,
  archon_task_history: taskHistoryTable,
  archon_document_versions: documentVersionsTable,
};

// Keeping an HNSW index up to date costs a graph search per inserted row, and GIN indexes do similar work
// per row; building them once after the load is several times faster, and ivfflat then trains its lists on
// real data instead of an empty table. Small tables are not worth the DDL.
const DEFER_INDEXES_FROM_ROWS = 100;

/** Drops the table's plain secondary indexes, runs the load, and recreates them from their saved definitions unless told not to. */
async function withIndexesDeferred<T>(client: pg.ClientBase, table: string, load: () => Promise<T>, recreate: boolean): Promise<T> {
  // Indexes behind a constraint (primary key, unique, or one a foreign key relies on) stay: they enforce
  // the data's rules during the load.
  const { rows: indexes } = await client.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
      WHERE i.indrelid = $1::regclass
        AND NOT i.indisunique
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
      ORDER BY 1`,
    [table],
  );
  for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
  const result = await load();
  if (recreate) for (const index of indexes) await createIndex(client, index.definition);
  return result;
}

/**
 * A parallel HNSW build puts its whole graph in one shared-memory segment the size of maintenance_work_mem,
 * which a container's default 64 MB /dev/shm cannot hold; when that is what failed, build without workers.
 */
async function createIndex(client: pg.ClientBase, definition: string): Promise<void> {
  await client.query('SAVEPOINT archon_generate_index');
  try {
    await client.query(definition);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '53100' && code !== '53200') throw error;
    await client.query('ROLLBACK TO SAVEPOINT archon_generate_index');
    await client.query('SET LOCAL max_parallel_maintenance_workers = 0');
    await client.query(definition);
  }
  await client.query('RELEASE SAVEPOINT archon_generate_index');
}

/**
 * Enough maintenance_work_mem to build the largest HNSW graph in memory (about 8 KB per 1536-d row with
 * its neighbour lists); past that pgvector falls back to on-disk inserts and takes many times longer.
 */
function maintenanceWorkMemMb(data: Dataset): number {
  return Math.min(4096, Math.max(64, Math.ceil((data.rows('archon_crawled_pages') * 8) / 1024)));
}

// Explicit ids bypass the sequences; without this the next ordinary insert would collide with a generated row.
const SERIAL_TABLES = ['archon_crawled_pages', 'archon_code_examples', 'archon_llm_pricing'];

/**
 * Fills the 17 tables (which must exist and be empty) in one transaction and returns rows per table.
 * Every column is given explicitly, defaults included, so nothing depends on the clock or the server.
 */
export async function generateArchonData(client: pg.ClientBase, options: GenerateOptions = {}): Promise<Record<string, number>> {
  const seed = options.seed ?? 1;
  const scale = options.scale ?? 1;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  if (!Number.isFinite(scale) || scale < 0) throw new RangeError(`scale must be a non-negative number, got ${scale}`);

  const data: Dataset = {
    embeddings: new EmbeddingSpace(seed),
    rows: (name) => rowsFor(name, scale),
    repositoryUrls: [],
    workOrders: [],
    projects: [],
    sources: [],
    pages: [],
    tasks: [],
  };
  const loaded: Record<string, number> = {};
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL maintenance_work_mem = '${maintenanceWorkMemMb(data)}MB'`);
    for (const name of ARCHON_TABLES) {
      const generator = TABLE_GENERATORS[name];
      if (!generator) throw new Error(`no generator for ${name}`);
      const { columns, rows } = generator(data, new SeededRandom(`${seed}/${name}`));
      const load = () => copyRows(client, name, columns, rows);
      loaded[name] = data.rows(name) >= DEFER_INDEXES_FROM_ROWS ? await withIndexesDeferred(client, name, load, options.secondaryIndexes ?? true) : await load();
      options.onTable?.(name, loaded[name]);
    }
    for (const name of SERIAL_TABLES) {
      await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), max(id)) FROM ${name}`, [name]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return loaded;
}
