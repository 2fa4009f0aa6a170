// `npm run bench`: archon-sync side by side with the physical limit (psql binary \copy pipes) and pg_dump | pg_restore,
// on this machine or (--link) with the target behind a slow, distant link; or (--incremental) its modes against
// each other after a share of the source's rows changed, on this machine or (--link --incremental) through the link.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { generateArchonData } from '../schema/generate.js';
import { ARCHON_TABLES, plan, type SyncPlan } from '../src/index.js';
import { OWNER_ROLE, PG_BIN, startCluster } from '../test/support/cluster.js';
import { fingerprintTables } from '../test/support/fingerprint.js';
import { TestServer } from '../test/support/servers.js';
import { byConnectionName, describeTraffic, STATEMENT_LOG_SETTINGS, StatementLogMark, trafficOf, type StatementLogExcerpt } from '../test/support/statement-log.js';
import { startByteMeter } from './byte-meter.js';
import { applySourceChanges, type TableChanges } from './source-changes.js';
import { DEFAULT_LINK_DELAY_MS, DEFAULT_LINK_MBIT, startLinkProxy, type LinkProxy, type LinkStats } from './link-proxy.js';

const DEFAULT_TOOLS = 'archon-sync,baseline,pg_dump,archon-sync-quiet';
/** Through the link: the three tools, and archon-sync once without it for the server-side index time. */
const DEFAULT_LINK_TOOLS = 'archon-sync,baseline,pg_dump,archon-sync-direct';

const args = await yargs(hideBin(process.argv))
  .option('scale', { type: 'number', default: 1, describe: 'data scale; 1 ≈ 50,000 archon_crawled_pages rows' })
  .option('runs', {
    type: 'number',
    describe: 'runs of archon-sync and baseline (the ratio with the tightest target), alternating; with --link of archon-sync and archon-sync-direct; '
      + 'with --incremental of each mode after each share',
    defaultDescription: '3; with --incremental 1',
  })
  .option('other-runs', { type: 'number', default: 1, describe: 'runs of every other tool (pg_dump is far slower; the variants measure one cost each)' })
  .option('mode', { choices: ['compare', 'memory'] as const, default: 'compare' as const, describe: 'compare tools, or peak RSS of archon-sync at two scales' })
  .option('scales', { type: 'string', default: '1,4', describe: 'memory mode: the two scales' })
  .option('tools', {
    type: 'string',
    describe: `which tools to time (default ${DEFAULT_TOOLS}; with --link ${DEFAULT_LINK_TOOLS}); also archon-sync-checksum (--verify=checksum), `
      + 'container-source and container-target (one side through the docker exec bridge), archon-sync-direct (never through the link)',
  })
  .option('link', { type: 'boolean', default: false, describe: 'put the target behind a proxy that adds a one-way delay and a rate limit per direction, for every tool; count statements from its log' })
  .option('link-delay-ms', { type: 'number', default: DEFAULT_LINK_DELAY_MS, describe: 'with --link: one-way delay, each direction' })
  .option('link-mbit', { type: 'number', default: DEFAULT_LINK_MBIT, describe: 'with --link: rate of each direction, 10^6 bit/s of payload' })
  .option('incremental', {
    type: 'boolean', default: false,
    describe: 'time --modes after each --shares of the source\'s rows changed (issue 17); with --link the target is behind the link and both servers\' logs are counted (issue 27)',
  })
  .option('shares', { type: 'string', describe: 'with --incremental: the changed shares, each a third updates, deletes and inserts', defaultDescription: '0,0.001,0.01,0.1,0.5; with --link 0,0.01' })
  .option('modes', {
    type: 'string',
    describe: 'with --incremental: the --mode of each timed CLI run; with --link also e.g. auto-direct, the same run straight at the target (what the link adds is the difference)',
    defaultDescription: 'full,incremental,auto; with --link incremental,auto (a full copy through the link takes minutes at scale 1)',
  })
  .option('cli', { type: 'string', default: 'dist/src/cli/archon-sync.js', describe: 'which build of the CLI to time (a patched copy measures one lever)' })
  .option('cli-args', { type: 'string', default: '', describe: 'extra flags for every archon-sync run (e.g. --maintenance-work-mem=2GB)' })
  .option('label', { type: 'string', default: '', describe: 'added to the result file names (e.g. variants)' })
  .option('out', { type: 'string', default: 'bench/results', describe: 'where results go' })
  .strict()
  .check((argv) => {
    if (argv.link && argv.mode !== 'compare') throw new Error('--link times tools against each other: use it with --mode compare');
    if (argv.incremental && argv.mode !== 'compare') throw new Error('--incremental is a scenario of its own: without --mode memory');
    return true;
  })
  .parseAsync();

const RUNS = args.runs ?? (args.incremental ? 1 : 3);

interface RunResult {
  tool: string;
  run: number;
  seconds: number;
  copySeconds: number | undefined;
  indexSeconds: number | undefined;
  verifySeconds: number | undefined;
  peakRssMb: number;
  cpuSeconds: number;
  verified: boolean;
  /** With --link: what crossed it and what the target's log says the run sent. */
  link?: LinkTraffic | undefined;
}

/** What a tool's connections sent one server during a run, from its log (see statement-log.ts). */
interface ServerTraffic {
  /**
   * Statements per application_name (each a round trip), by the name each connection started with: every
   * connection that sets one is the tool's, whatever the name; the harness's own clients set none.
   */
  statements: Record<string, number>;
  /** Connections per application_name (each the TCP handshake plus authentication's turns). */
  connections: Record<string, number>;
  /** Both summed over the tool's own applications. */
  totalStatements: number;
  totalConnections: number;
  /** Statement kinds (statementKind), most frequent first: where the statements go. */
  kinds?: [kind: string, count: number][];
  /** Per connection opened during the run, in order: its name and its statements (the CLI's plan and sync share a name). */
  byConnection?: { application: string; statements: number }[];
}

interface LinkTraffic extends ServerTraffic {
  /** Whether this run went through the link (archon-sync-direct does not). */
  throughLink: boolean;
  bytesToTarget: number;
  bytesFromTarget: number;
  /** TCP connections the link accepted (a failed attempt, e.g. a TLS fallback, shows here and not in the log). */
  linkConnections: number;
}

const CLI = resolve(args.cli);

/**
 * Every archon-sync run keeps its old rows, as users' runs do, in a scratch directory removed at the end (not in the
 * home), two runs at most, and with no size limit, so a large scale measures the cost of keeping them rather than a
 * refusal. --cli-args may say otherwise (--no-backup, to compare).
 */
const BACKUP_DIR = mkdtempSync(join(tmpdir(), 'archon-sync-bench-backups-'));
process.on('exit', () => rmSync(BACKUP_DIR, { recursive: true, force: true }));
function backupFlags(): string {
  // The bench times copies it means to make, shares of deleted rows and a target restored from a copy included:
  // the deletion guard and the target-edit refusal (issue 25) are checked and shown, never allowed to stop it.
  const safety = /--max-delete|--target-changes/.test(args.cliArgs) ? '' : ' --max-delete=100 --target-changes=overwrite';
  return (/--(no-)?backup\b/.test(args.cliArgs) ? '' : `--backup-dir=${quoteShell(BACKUP_DIR)} --backup-limit=1TB --keep-backups=2`) + safety;
}

interface Timed {
  seconds: number;
  peakRssMb: number;
  /** User + system CPU of the client processes (not of the servers): what the tool itself burns. */
  cpuSeconds: number;
}

/** Runs `command` under GNU time. Asynchronous, so the link proxy (in this process) keeps forwarding meanwhile. */
async function timeCommand(command: string, env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  // GNU time reports the largest resident set of the command and of every process it waited for.
  const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M %U %S', 'bash', '-o', 'pipefail', '-c', command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-65536); });
  const status = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  const match = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  if (status !== 0 || !match) {
    throw new Error(`benchmark command failed (${status}): ${command.slice(0, 200)}\n${stderr.slice(-2000)}`);
  }
  return { seconds: Number(match[1]), peakRssMb: Number(match[2]) / 1024, cpuSeconds: Number(match[3]) + Number(match[4]) };
}

function percent(fraction: number | undefined): string {
  return fraction === undefined ? '–' : `${(fraction * 100).toFixed(1)} %`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function quoteShell(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** pg_restore reaches the target over TCP (through the link) as the superuser, which needs a password there. */
const SUPERUSER_PASSWORD = 'bench-superuser-pw';

async function prepare(scale: number, withLink = false, logSource = false) {
  const [sourceCluster, targetCluster] = await Promise.all([
    // The source's log is read only where its statements are counted too (--link --incremental).
    startCluster('bench-source', logSource ? { settings: { ...STATEMENT_LOG_SETTINGS } } : {}),
    // The target's log is read with --link (it is behind the link); every statement it gets is one line there.
    startCluster('bench-target', withLink ? { settings: { ...STATEMENT_LOG_SETTINGS } } : {}),
  ]);
  const source = new TestServer('source', sourceCluster, new URL('postgresql://unused'));
  const target = new TestServer('target', targetCluster, new URL('postgresql://unused'));
  const sourceDb = await source.createDatabase('bench');
  const targetDb = await target.createDatabase('bench');
  let link: LinkProxy | undefined;
  if (withLink) {
    await target.admin('postgres', (client) => client.query(`ALTER ROLE postgres PASSWORD '${SUPERUSER_PASSWORD}'`));
    link = await startLinkProxy({ upstreamPort: targetCluster.port, delayMs: args.linkDelayMs, mbitPerSecond: args.linkMbit });
  }
  const started = Date.now();
  // Every tool only reads the source (COPY TO, pg_dump): its vector and trigram indexes would change no timing
  // and would double the generation time.
  const counts = await source.asOwner(sourceDb, (client) => generateArchonData(client, { seed: 1, scale, secondaryIndexes: false }));
  const generateSeconds = (Date.now() - started) / 1000;
  const sizes = await source.asOwner(sourceDb, async (client) => (await client.query<{ bytes: string }>(
    `SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c WHERE c.relname = ANY($1) AND c.relkind = 'r'`, [ARCHON_TABLES])).rows[0]?.bytes);
  await Promise.all([source.admin(sourceDb, (c) => c.query('VACUUM ANALYZE')), target.admin(targetDb, (c) => c.query('VACUUM ANALYZE'))]);
  return { source, target, sourceDb, targetDb, counts, generateSeconds, sourceBytes: Number(sizes ?? 0), link };
}

type Setup = Awaited<ReturnType<typeof prepare>>;

/** The port a tool dials for the target: the link's, unless there is none or the run bypasses it. */
function targetPort(setup: Setup, direct = false): number {
  const cluster = setup.target.cluster;
  if (!cluster) throw new Error('the benchmark needs harness-started clusters');
  return setup.link && !direct ? setup.link.port : cluster.port;
}

/** The owner's URI for the target, as a tool gets it (through the link unless `direct`). */
function targetUri(setup: Setup, direct = false): string {
  const url = new URL(setup.target.ownerUri(setup.targetDb));
  url.port = String(targetPort(setup, direct));
  return url.toString();
}

/** Every run starts alike: an empty target and no dirty pages left from the previous run on either server. */
async function resetTarget(setup: Setup): Promise<void> {
  await setup.target.asOwner(setup.targetDb, (client) => client.query(`TRUNCATE ${ARCHON_TABLES.join(', ')} CASCADE`));
  await Promise.all([setup.source.admin(setup.sourceDb, (c) => c.query('CHECKPOINT')), setup.target.admin(setup.targetDb, (c) => c.query('CHECKPOINT'))]);
}

async function verified(setup: Setup): Promise<boolean> {
  const [a, b] = await Promise.all([
    setup.source.asOwner(setup.sourceDb, (c) => fingerprintTables(c, ARCHON_TABLES)),
    setup.target.asOwner(setup.targetDb, (c) => fingerprintTables(c, ARCHON_TABLES)),
  ]);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** How an archon-sync run differs from the plain one: what each variant of the tool list measures. */
interface Variant {
  /** --quiet --no-history: the cost of progress and history is the difference to the plain run. */
  quiet?: boolean;
  /** --verify=checksum instead of the default count. */
  checksum?: boolean;
  /** Which side goes through the docker exec bridge (the stand-in docker that runs it on this machine). */
  container?: 'source' | 'target';
  /** With --link: reach the target directly; this run's index phase is the server-side index time of the bound. */
  direct?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  'archon-sync': {},
  'archon-sync-quiet': { quiet: true },
  'archon-sync-checksum': { checksum: true },
  'container-source': { container: 'source' },
  'container-target': { container: 'target' },
  'archon-sync-direct': { direct: true },
};

/** The pair whose ratio has the tightest target: timed --runs times; everything else --other-runs times. */
const REPEATED_TOOLS = ['archon-sync', 'baseline'];
/** Through the link the tightest target is archon-sync against its bound, whose index time comes from archon-sync-direct. */
const REPEATED_LINK_TOOLS = ['archon-sync', 'archon-sync-direct'];

const FAKE_DOCKER_DIR = resolve('test/fixtures/fake-docker');
const BENCH_CONTAINER = 'bench-db';

async function archonSync(setup: Setup, variant: Variant, logFile: string) {
  const through = (side: 'source' | 'target', uri: string) => variant.container === side ? `${uri}&container=${BENCH_CONTAINER}` : uri;
  const env = {
    ...process.env,
    LOCAL_DATABASE_URI: through('source', setup.source.ownerUri(setup.sourceDb)),
    REMOTE_DATABASE_URI: through('target', targetUri(setup, variant.direct)),
    ...(variant.container ? { PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`, FAKE_DOCKER_CONTAINERS: BENCH_CONTAINER } : {}),
  };
  // Every run starts from an emptied target, where auto copies in full too; naming the mode keeps each comparison a
  // whole copy against a whole copy (pg_dump, the psql pipes) whatever auto's rules become. --cli-args may override it.
  const mode = /--mode\b/.test(args.cliArgs) ? '' : '--mode=full';
  const flags = [variant.quiet ? '--quiet --no-history --log-format=pretty' : '--log-format=json', variant.checksum ? '--verify=checksum' : '', mode, backupFlags(), args.cliArgs].join(' ');
  const timed = await timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} --direction=local-to-remote --skip-confirm ${flags} > ${quoteShell(logFile)}`, env);
  let copySeconds: number | undefined;
  let indexSeconds: number | undefined;
  let verifySeconds: number | undefined;
  if (!variant.quiet) {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"completed"')) continue;
      const parsed = JSON.parse(line) as { durations?: { copy: number; indexing: number; verification: number } };
      copySeconds = parsed.durations?.copy;
      indexSeconds = parsed.durations?.indexing;
      verifySeconds = parsed.durations?.verification;
    }
  }
  return { ...timed, copySeconds, indexSeconds, verifySeconds };
}

/** The limit: psql binary \copy pipes per table into truncated tables without secondary indexes, then the same CREATE INDEX. */
async function baseline(setup: Setup, thePlan: SyncPlan) {
  const src = setup.source.ownerUri(setup.sourceDb);
  const dst = targetUri(setup);
  // Setup, not timed: directly and by the harness's own client, so it is not counted as the tool's statements either.
  const dropIndexes = thePlan.tables.flatMap((t) => t.indexes.map((i) => `DROP INDEX ${i.schema}.${i.name};`)).join(' ');
  await setup.target.asOwner(setup.targetDb, (client) => client.query(dropIndexes));
  const pipes = thePlan.tables.map((t) => {
    const cols = t.columns.map((c) => `"${c}"`).join(', ');
    const out = `\\copy (SELECT ${cols} FROM ${t.sql}) TO STDOUT (FORMAT binary)`;
    const into = `\\copy ${t.sql} (${cols}) FROM STDIN (FORMAT binary)`;
    return `psql -qX ${quoteShell(src)} -v ON_ERROR_STOP=1 -c ${quoteShell(out)} | PGOPTIONS='-c session_replication_role=replica' psql -qX ${quoteShell(dst)} -v ON_ERROR_STOP=1 -c ${quoteShell(into)}`;
  });
  const copy = await timeCommand(pipes.join(' && '));
  const createIndexes = ['SET maintenance_work_mem = \'256MB\';', 'SET max_parallel_maintenance_workers = 2;',
    ...thePlan.tables.flatMap((t) => t.indexes.map((i) => `${i.definition};`))].join('\n');
  const indexFile = join(args.out, 'baseline-indexes.sql');
  writeFileSync(indexFile, createIndexes);
  const indexing = await timeCommand(`psql -qX ${quoteShell(dst)} -v ON_ERROR_STOP=1 -f ${quoteShell(indexFile)} 2>/dev/null`);
  return {
    seconds: copy.seconds + indexing.seconds, peakRssMb: Math.max(copy.peakRssMb, indexing.peakRssMb),
    cpuSeconds: copy.cpuSeconds + indexing.cpuSeconds, copySeconds: copy.seconds, indexSeconds: indexing.seconds,
  };
}

/** What users reach for today: a custom-format data-only dump piped into a single-transaction restore. */
async function pgDumpRestore(setup: Setup) {
  const tables = ARCHON_TABLES.map((t) => `-t public.${t}`).join(' ');
  const source = setup.source.cluster;
  const target = setup.target.cluster;
  if (!source || !target) throw new Error('the benchmark needs harness-started clusters');
  // --disable-triggers needs a superuser, so both ends run as postgres: over the Unix socket, or through the link
  // over TCP with a password.
  const dump = `${PG_BIN}/pg_dump -Fc --data-only ${tables} -h ${source.socketDir} -p ${source.port} -U postgres ${setup.sourceDb}`;
  const restoreHost = setup.link ? `-h 127.0.0.1 -p ${targetPort(setup)}` : `-h ${target.socketDir} -p ${target.port}`;
  const restore = `${PG_BIN}/pg_restore --data-only --disable-triggers --single-transaction ${restoreHost} -U postgres -d ${setup.targetDb}`;
  return timeCommand(`${dump} | ${restore}`, setup.link ? { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD } : process.env);
}

/** What the tool's connections sent a server since `mark`; with `kinds`, which kinds of statement too. */
function serverTraffic(mark: StatementLogMark, kinds = false): ServerTraffic {
  const excerpt: StatementLogExcerpt = byConnectionName(mark.read());
  const statements: Record<string, number> = {};
  const connections: Record<string, number> = {};
  // The harness's own clients (reset, verification) set no application_name; every other one is the tool's. A
  // sync's own connection carries its sync id (`archon-sync sync_…`, so a refusal can name it): counted by role.
  const role = (application: string) => (/^archon-sync sync_/.test(application) ? 'archon-sync' : application);
  for (const s of excerpt.statements) if (s.application) statements[role(s.application)] = (statements[role(s.application)] ?? 0) + 1;
  for (const c of excerpt.connections) if (c.application) connections[role(c.application)] = (connections[role(c.application)] ?? 0) + 1;
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    statements,
    connections,
    totalStatements: sum(statements),
    totalConnections: sum(connections),
    ...(kinds ? {
      kinds: trafficOf(excerpt, (name) => name !== '').kinds,
      byConnection: excerpt.connections.filter((c) => c.application)
        .map((c) => ({ application: c.application, statements: excerpt.statements.filter((s) => s.pid === c.pid).length })),
    } : {}),
  };
}

/** What one run sent through the link and to the target, from the proxy's counters and the target's log. */
function linkTraffic(setup: Setup, direct: boolean, before: LinkStats, mark: StatementLogMark, kinds = false): LinkTraffic {
  const after = setup.link?.stats() ?? before;
  return {
    throughLink: !direct,
    bytesToTarget: after.bytesToServer - before.bytesToServer,
    bytesFromTarget: after.bytesToClient - before.bytesToClient,
    linkConnections: after.connections - before.connections,
    ...serverTraffic(mark, kinds),
  };
}

function describeLinkTraffic(traffic: LinkTraffic): string {
  const apps = Object.entries(traffic.statements).map(([app, n]) => `${app} ${n}`).join(', ');
  const moved = traffic.throughLink ? `${(traffic.bytesToTarget / 1e6).toFixed(1)} MB to the target through the link, ${(traffic.bytesFromTarget / 1e6).toFixed(1)} MB back; ` : 'not through the link; ';
  return `${moved}${traffic.totalStatements} statements on the target (${apps || 'none'}) on ${traffic.totalConnections} connection(s)`;
}

async function compare(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  console.log(`preparing scale ${args.scale}${args.link ? ` with the target behind a link of ${args.linkDelayMs} ms each way and ${args.linkMbit} Mbit/s` : ''} …`);
  const setup = await prepare(args.scale, args.link);
  console.log(`generated ${Object.values(setup.counts).reduce((a, b) => a + b, 0)} rows (${(setup.sourceBytes / 1048576).toFixed(0)} MB of table data) in ${setup.generateSeconds.toFixed(1)} s`);
  const thePlan = await plan({ source: setup.source.ownerUri(setup.sourceDb), target: setup.target.ownerUri(setup.targetDb) });
  const tools = (args.tools ?? (args.link ? DEFAULT_LINK_TOOLS : DEFAULT_TOOLS)).split(',').map((t) => t.trim());
  const unknown = tools.filter((t) => !(t in VARIANTS) && t !== 'baseline' && t !== 'pg_dump');
  if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(', ')}; known: ${[...Object.keys(VARIANTS), 'baseline', 'pg_dump'].join(', ')}`);
  const prefix = [args.link ? 'link' : '', args.label].filter(Boolean).join('-');
  const results: RunResult[] = [];
  for (let run = 1; run <= Math.max(RUNS, args.otherRuns); run++) {
    // Rotated each run, so no tool always goes first (after generation) or always follows the same one.
    const order = tools.map((_, i) => tools[(i + run - 1) % tools.length] as string)
      .filter((tool) => run <= ((args.link ? REPEATED_LINK_TOOLS : REPEATED_TOOLS).includes(tool) ? RUNS : args.otherRuns));
    for (const tool of order) {
      await resetTarget(setup);
      const logFile = join(args.out, `${prefix ? `${prefix}-` : ''}${tool}-run${run}.log`);
      const variant = VARIANTS[tool];
      const linkBefore = setup.link?.stats();
      const mark = setup.link && setup.target.cluster ? StatementLogMark.now(setup.target.cluster) : undefined;
      const timed: Timed & { copySeconds?: number | undefined; indexSeconds?: number | undefined; verifySeconds?: number | undefined } = variant ? await archonSync(setup, variant, logFile)
        : tool === 'baseline' ? await baseline(setup, thePlan)
          : await pgDumpRestore(setup);
      const link = linkBefore && mark ? linkTraffic(setup, variant?.direct ?? false, linkBefore, mark) : undefined;
      const ok = await verified(setup);
      const result: RunResult = {
        tool, run, seconds: timed.seconds, peakRssMb: Math.round(timed.peakRssMb), cpuSeconds: timed.cpuSeconds,
        copySeconds: timed.copySeconds,
        indexSeconds: timed.indexSeconds,
        verifySeconds: timed.verifySeconds,
        verified: ok,
        ...(link ? { link } : {}),
      };
      results.push(result);
      console.log(`run ${run} ${tool.padEnd(20)} ${timed.seconds.toFixed(2)} s  client CPU ${timed.cpuSeconds.toFixed(2)} s  peak RSS ${result.peakRssMb} MB  ${ok ? 'verified' : 'NOT EQUAL'}`
        + (link ? `\n      ${describeLinkTraffic(link)}` : ''));
      if (!ok) throw new Error(`${tool} produced a target that differs from the source`);
    }
  }
  const summary = tools.map((tool) => {
    const own = results.filter((r) => r.tool === tool);
    const times = own.map((r) => r.seconds);
    const med = median(times);
    const copy = own.map((r) => r.copySeconds).filter((x): x is number => x !== undefined);
    const index = own.map((r) => r.indexSeconds).filter((x): x is number => x !== undefined);
    const verify = own.map((r) => r.verifySeconds).filter((x): x is number => x !== undefined);
    const link = own.map((r) => r.link).filter((x): x is LinkTraffic => x !== undefined);
    return {
      tool,
      medianSeconds: med,
      minSeconds: Math.min(...times),
      rowsPerSecond: Math.round(Object.values(setup.counts).reduce((a, b) => a + b, 0) / med),
      mbPerSecond: Number((setup.sourceBytes / 1048576 / med).toFixed(1)),
      medianCopySeconds: copy.length ? median(copy) : undefined,
      medianIndexSeconds: index.length ? median(index) : undefined,
      medianVerifySeconds: verify.length ? median(verify) : undefined,
      peakRssMb: Math.max(...own.map((r) => r.peakRssMb)),
      medianCpuSeconds: median(own.map((r) => r.cpuSeconds)),
      ...(link.length ? {
        throughLink: link.every((l) => l.throughLink),
        medianBytesToTarget: median(link.map((l) => l.bytesToTarget)),
        medianBytesFromTarget: median(link.map((l) => l.bytesFromTarget)),
        medianStatements: median(link.map((l) => l.totalStatements)),
        medianConnections: median(link.map((l) => l.totalConnections)),
        /** Of the last run: the counts do not change from run to run. */
        statementsByApplication: link[link.length - 1]?.statements,
      } : {}),
    };
  });
  const byTool = Object.fromEntries(summary.map((s) => [s.tool, s]));
  /** How much slower `tool` is than `reference`, as a fraction (0.05 = 5 % slower). */
  const costOver = (reference: string, tool: string) => {
    const a = byTool[reference];
    const b = byTool[tool];
    return a && b ? b.medianSeconds / a.medianSeconds - 1 : undefined;
  };
  const ratios = {
    archonSyncOverBaseline: byTool['archon-sync'] && byTool.baseline ? byTool['archon-sync'].medianSeconds / byTool.baseline.medianSeconds : undefined,
    pgDumpOverArchonSync: byTool['archon-sync'] && byTool.pg_dump ? byTool.pg_dump.medianSeconds / byTool['archon-sync'].medianSeconds : undefined,
    progressAndHistoryCost: costOver('archon-sync-quiet', 'archon-sync'),
    // The wall-time difference drowns in the index builds' run-to-run noise. The client's extra CPU is a firmer
    // upper bound: the copy is server-bound, so progress and history can slow it by at most the CPU they take.
    progressAndHistoryCpuShare: byTool['archon-sync'] && byTool['archon-sync-quiet']
      ? (byTool['archon-sync'].medianCpuSeconds - byTool['archon-sync-quiet'].medianCpuSeconds) / byTool['archon-sync'].medianSeconds : undefined,
    checksumOverCount: costOver('archon-sync', 'archon-sync-checksum'),
    containerSourceOverDirect: costOver('archon-sync', 'container-source'),
    containerTargetOverDirect: costOver('archon-sync', 'container-target'),
  };
  const linkBound = setup.link ? boundOverLink(byTool['archon-sync'], byTool['archon-sync-direct'], byTool.pg_dump) : undefined;
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version,
    postgres: spawnSync(`${PG_BIN}/postgres`, ['--version'], { encoding: 'utf8' }).stdout.trim() };
  const link = setup.link ? { delayMs: setup.link.delayMs, mbitPerSecond: setup.link.mbitPerSecond, ...linkBound } : undefined;
  const report = { date: new Date().toISOString(), scale: args.scale, cli: args.cli, cliArgs: args.cliArgs, runs: RUNS, otherRuns: args.otherRuns, tools, rows: setup.counts, sourceBytes: setup.sourceBytes, machine, link, summary, ratios, results };
  const stamp = new Date().toISOString().slice(0, 10);
  const base = `${stamp}-scale${args.scale}${prefix ? `-${prefix}` : ''}`;
  const file = join(args.out, `${base}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const table = [
    '| tool | median s | min s | rows/s | MB/s | copy s | index s | verify s | client CPU s | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...summary.map((s) => `| ${s.tool} | ${s.medianSeconds.toFixed(2)} | ${s.minSeconds.toFixed(2)} | ${s.rowsPerSecond} | ${s.mbPerSecond} | ${s.medianCopySeconds?.toFixed(2) ?? '–'} | ${s.medianIndexSeconds?.toFixed(2) ?? '–'} | ${s.medianVerifySeconds?.toFixed(2) ?? '–'} | ${s.medianCpuSeconds.toFixed(2)} | ${s.peakRssMb} |`),
    ...(setup.link ? [
      '',
      '| tool | through the link | MB to target | MB from target | statements on the target | by application_name | connections |',
      '|---|---|---|---|---|---|---|',
      ...summary.map((s) => `| ${s.tool} | ${s.throughLink ? 'yes' : 'no'} | ${((s.medianBytesToTarget ?? 0) / 1e6).toFixed(1)} | ${((s.medianBytesFromTarget ?? 0) / 1e6).toFixed(1)} | ${s.medianStatements ?? '–'} | ${Object.entries(s.statementsByApplication ?? {}).map(([app, n]) => `${app} ${n}`).join(', ')} | ${s.medianConnections ?? '–'} |`),
    ] : []),
  ].join('\n');
  console.log(`\n${table}\n`);
  const ratioLines = setup.link && link ? [
    `link: ${link.delayMs} ms each way, ${link.mbitPerSecond} Mbit/s each direction`,
    `archon-sync / pg_dump|pg_restore through the link: ${link.archonSyncOverPgDump?.toFixed(3) ?? '–'} (issue 19: ≤ 0.80)`,
    `archon-sync / (bytes to the target ÷ rate + index time without the link): ${link.archonSyncSeconds?.toFixed(2) ?? '–'} s / `
      + `(${link.transferSeconds?.toFixed(2) ?? '–'} s + ${link.indexSecondsWithoutLink?.toFixed(2) ?? '–'} s) = ${link.archonSyncOverBound?.toFixed(3) ?? '–'} (issue 19: ≤ 1.15)`,
  ] : [
    `archon-sync / baseline: ${ratios.archonSyncOverBaseline?.toFixed(3) ?? '–'}`,
    `pg_dump|pg_restore / archon-sync: ${ratios.pgDumpOverArchonSync?.toFixed(2) ?? '–'}`,
    `progress + history cost: ${percent(ratios.progressAndHistoryCost)} of wall time; their client CPU: ${percent(ratios.progressAndHistoryCpuShare)} of wall time`,
    `--verify=checksum over count: ${percent(ratios.checksumOverCount)}`,
    `docker exec bridge, source side: ${percent(ratios.containerSourceOverDirect)}; target side: ${percent(ratios.containerTargetOverDirect)}`,
  ];
  writeFileSync(join(args.out, `${base}.md`), `${table}\n\n${ratioLines.map((l) => `- ${l}`).join('\n')}\n`);
  console.log(ratioLines.join('\n'));
  console.log(`results: ${file}`);
  await setup.link?.close();
  setup.source.close();
  setup.target.close();
}

interface ToolSummary {
  medianSeconds: number;
  medianIndexSeconds?: number | undefined;
  medianBytesToTarget?: number | undefined;
}

/**
 * The issue's bound for a sync over the link: what must cross it at its rate, plus what the target's server must
 * do anyway (the index builds, timed in the same invocation without the link). Everything above it is turns
 * (round trips), slow start the proxy does not model, or time the client and servers lose elsewhere.
 */
function boundOverLink(sync: ToolSummary | undefined, direct: ToolSummary | undefined, pgDump: ToolSummary | undefined) {
  const transferSeconds = sync?.medianBytesToTarget === undefined ? undefined : (sync.medianBytesToTarget * 8) / (args.linkMbit * 1e6);
  const indexSecondsWithoutLink = direct?.medianIndexSeconds;
  const boundSeconds = transferSeconds !== undefined && indexSecondsWithoutLink !== undefined ? transferSeconds + indexSecondsWithoutLink : undefined;
  return {
    archonSyncSeconds: sync?.medianSeconds,
    pgDumpSeconds: pgDump?.medianSeconds,
    archonSyncOverPgDump: sync && pgDump ? sync.medianSeconds / pgDump.medianSeconds : undefined,
    bytesToTarget: sync?.medianBytesToTarget,
    transferSeconds,
    indexSecondsWithoutLink,
    boundSeconds,
    archonSyncOverBound: sync && boundSeconds ? sync.medianSeconds / boundSeconds : undefined,
  };
}

const SYNC_MODES = ['full', 'incremental', 'auto'] as const;
/** A timed run: the CLI's --mode, or with --link that mode straight at the target, bypassing the link. */
type ModeName = typeof SYNC_MODES[number] | `${typeof SYNC_MODES[number]}-direct`;
const DIRECT = '-direct';

interface ModeRun {
  share: number;
  mode: ModeName;
  /** 1 … --runs: which repetition of this mode at this share. */
  run: number;
  seconds: number;
  peakRssMb: number;
  cpuSeconds: number;
  /** Every byte the source's server sent the CLI, counted by a pass-through meter in front of it. */
  sourceBytes: number;
  /** What the CLI's `completed` line reports (COPY bytes moved, digests included). */
  reportedBytes: number | undefined;
  /** pg_wal_lsn_diff of the target's pg_current_wal_lsn() after and before the run. */
  walBytes: number;
  durations: Record<string, number> | undefined;
  /** The run whose watermark the comparison went by (null: every compared row was hashed). */
  comparedSince: string | null;
  /** Per table, how it was loaded and what moved (tables with changes or loaded in full). */
  tables: { table: string; mode: string; inserted: number; updated: number; deleted: number; copiedRows: number }[];
  /** What keeping the old rows for undo cost the run (the CLI's `completed` line): seconds and bytes kept. */
  backupSeconds: number | undefined;
  backupBytes: number | undefined;
  verified: boolean;
  /** The machine's 1-minute load average when the run ended (the other work on it shows here). */
  loadAverage: number;
  /** With --link: what the CLI's connections sent each server (from its log) and what crossed the link. */
  traffic?: RunTraffic | undefined;
}

interface RunTraffic {
  target: LinkTraffic;
  source: ServerTraffic;
}

/**
 * Replaces `database` with a copy of `template`: the fastest way back to a known state (a file copy, checkpointed).
 * The copy keeps the database's oid, so to archon-sync it is the same database put back, as a restore from a
 * file-level backup would. A target put back keeps its watermarks (its history comes back with its rows); a source
 * put back is a database created again, which no watermark of before vouches for, so the first run after it
 * compares every row.
 */
async function restoreDatabase(server: TestServer, database: string, template: string): Promise<void> {
  await server.admin('postgres', async (client) => {
    const oid = (await client.query<{ oid: string }>('SELECT oid::text AS oid FROM pg_database WHERE datname = $1', [database])).rows[0]?.oid;
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${database}" TEMPLATE "${template}" STRATEGY FILE_COPY OWNER ${OWNER_ROLE}${oid ? ` OID ${oid}` : ''}`);
  });
}

async function walLsn(setup: Setup): Promise<string> {
  return setup.target.admin(setup.targetDb, async (c) => (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0');
}

async function walBytesSince(setup: Setup, before: string): Promise<number> {
  return setup.target.admin(setup.targetDb, async (c) =>
    Number((await c.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS bytes', [before])).rows[0]?.bytes ?? 0));
}

function describeRunTraffic(traffic: RunTraffic): string {
  const apps = (t: ServerTraffic) => Object.entries(t.statements).map(([app, n]) => `${app} ${n}`).join(', ') || 'none';
  return `target: ${traffic.target.totalStatements} statements (${apps(traffic.target)}) on ${traffic.target.totalConnections} connection(s), `
    + `${(traffic.target.bytesToTarget / 1e6).toFixed(2)} MB to it through the link, ${(traffic.target.bytesFromTarget / 1e6).toFixed(2)} MB back; `
    + `source: ${traffic.source.totalStatements} statements (${apps(traffic.source)}) on ${traffic.source.totalConnections} connection(s)`;
}

/** The CLI process alone, node start and module loading included: the median of three `--version` runs. */
async function cliStartSeconds(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push((await timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} --version`)).seconds);
  return median(times);
}

/**
 * Issue 17: after 0 %, 0.1 %, 1 %, 10 % and 50 % of the source's rows changed, each mode from the same target
 * (a copy of the source before the changes, with the watermark of a run made after the source was put back,
 * restored from a template database before every run).
 * Issue 27 (--link): the same with the target behind the link, statements counted from both servers' logs.
 */
async function incrementalScenarios(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  const shares = (args.shares ?? (args.link ? '0,0.01' : '0,0.001,0.01,0.1,0.5')).split(',').map(Number);
  const modes = (args.modes ?? (args.link ? 'incremental,auto' : SYNC_MODES.join(','))).split(',').map((m) => m.trim());
  const known: string[] = [...SYNC_MODES, ...(args.link ? SYNC_MODES.map((m) => `${m}${DIRECT}`) : [])];
  const unknown = modes.filter((m) => !known.includes(m));
  if (unknown.length || !modes.length) throw new Error(`unknown mode(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  console.log(`preparing scale ${args.scale} for incremental scenarios at shares ${shares.join(', ')}`
    + `${args.link ? ` with the target behind a link of ${args.linkDelayMs} ms each way and ${args.linkMbit} Mbit/s` : ''} …`);
  // Through the link both servers log their statements: a nightly run's turns are counted on each side.
  const setup = await prepare(args.scale, args.link, args.link);
  const sourceCluster = setup.source.cluster;
  const targetCluster = setup.target.cluster;
  if (!sourceCluster || !targetCluster) throw new Error('the benchmark needs harness-started clusters');
  console.log(`generated ${Object.values(setup.counts).reduce((a, b) => a + b, 0)} rows (${(setup.sourceBytes / 1048576).toFixed(0)} MB of table data) in ${setup.generateSeconds.toFixed(1)} s`);
  const startSeconds = await cliStartSeconds();
  console.log(`the CLI process alone (node start, modules, --version): ${startSeconds.toFixed(2)} s`);
  const meter = await startByteMeter(sourceCluster.port);
  const sourceBase = `${setup.sourceDb}_base`;
  const targetBase = `${setup.targetDb}_base`;
  const prefix = args.link ? 'link-' : '';
  await setup.source.admin('postgres', (c) => c.query(`CREATE DATABASE "${sourceBase}" TEMPLATE "${setup.sourceDb}" STRATEGY FILE_COPY`));

  const runMode = async (kind: ModeName, logFile: string) => {
    const direct = kind.endsWith(DIRECT);
    const mode = direct ? kind.slice(0, -DIRECT.length) : kind;
    const sourceUri = new URL(setup.source.ownerUri(setup.sourceDb));
    sourceUri.port = String(meter.port);
    const env = { ...process.env, LOCAL_DATABASE_URI: sourceUri.toString(), REMOTE_DATABASE_URI: targetUri(setup, direct) };
    const bytesBefore = meter.bytesFromServer();
    const lsnBefore = await walLsn(setup);
    const linkBefore = setup.link?.stats();
    const marks = setup.link ? { target: StatementLogMark.now(targetCluster), source: StatementLogMark.now(sourceCluster) } : undefined;
    const timed = await timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} --direction=local-to-remote --skip-confirm --log-format=json --mode=${mode} ${backupFlags()} ${args.cliArgs} > ${quoteShell(logFile)}`, env);
    // Every connection the CLI opened, whatever its name (the plan's, the sync's, history, probe, progress).
    const traffic: RunTraffic | undefined = marks && linkBefore
      ? { target: linkTraffic(setup, direct, linkBefore, marks.target, true), source: serverTraffic(marks.source, true) } : undefined;
    const walBytes = await walBytesSince(setup, lsnBefore);
    const sourceBytes = meter.bytesFromServer() - bytesBefore;
    let completed: { durations?: Record<string, number>; bytes?: number; comparedSince?: string | null; tables?: ModeRun['tables']; backup?: { kept: boolean; seconds?: number; bytes?: number } } = {};
    for (const line of readFileSync(logFile, 'utf8').split('\n')) if (line.includes('"completed"')) completed = JSON.parse(line) as typeof completed;
    return { ...timed, walBytes, sourceBytes, completed, traffic };
  };

  // The target starts as a full copy of the unchanged source (through the link with --link); every run starts from a copy of that.
  const first = await runMode('full', join(args.out, `${prefix}incremental-initial.log`));
  if (!(await verified(setup))) throw new Error('the initial full sync left a target that differs from the source');
  console.log(`initial full sync ${first.seconds.toFixed(1)} s${first.traffic ? `\n      ${describeRunTraffic(first.traffic)}` : ''}`);
  await setup.target.admin(setup.targetDb, (c) => c.query('VACUUM ANALYZE'));
  await setup.target.admin('postgres', (c) => c.query(`CREATE DATABASE "${targetBase}" TEMPLATE "${setup.targetDb}" STRATEGY FILE_COPY`));
  const initial = { seconds: first.seconds, durations: first.completed.durations, traffic: first.traffic };

  const runs: ModeRun[] = [];
  const verifies: VerifyRun[] = [];
  const changes: Record<string, TableChanges[]> = {};
  const targetPrimed = `${setup.targetDb}_primed`;
  for (const [index, share] of shares.entries()) {
    await restoreDatabase(setup.source, setup.sourceDb, sourceBase);
    // The source was just created again: one unmeasured run into the target compares every row and leaves the
    // watermark the measured runs go by; each of them starts from a copy of the target it left.
    await restoreDatabase(setup.target, setup.targetDb, targetBase);
    const primed = await runMode('incremental', join(args.out, `${prefix}incremental-share${share}-primed.log`));
    console.log(`share ${share}: the run after the source was put back, every row compared, ${primed.seconds.toFixed(1)} s`);
    await setup.target.admin('postgres', async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${targetPrimed}"`);
      await c.query(`CREATE DATABASE "${targetPrimed}" TEMPLATE "${setup.targetDb}" STRATEGY FILE_COPY`);
    });
    changes[share] = await setup.source.admin(setup.sourceDb, (c) => applySourceChanges(c, share));
    await setup.source.admin(setup.sourceDb, (c) => c.query('VACUUM ANALYZE'));
    const changed = changes[share].reduce((n, t) => n + t.updated + t.deleted + t.inserted, 0);
    console.log(`share ${share}: ${changed} rows changed on the source (${changes[share].map((t) => `${t.table} ${t.updated}/${t.deleted}/${t.inserted}`).join(', ')})`);
    for (let run = 1; run <= RUNS; run++) {
      // Rotated from share to share and run to run, so no mode always runs first after the source changed.
      const order = modes.map((_, i) => modes[(i + index + run - 1) % modes.length] as ModeName);
      for (const mode of order) {
        await restoreDatabase(setup.target, setup.targetDb, targetPrimed);
        await Promise.all([setup.source.admin(setup.sourceDb, (c) => c.query('CHECKPOINT')), setup.target.admin(setup.targetDb, (c) => c.query('CHECKPOINT'))]);
        const result = await runMode(mode, join(args.out, `${prefix}incremental-share${share}-${mode}${RUNS > 1 ? `-run${run}` : ''}.log`));
        const ok = await verified(setup);
        const modeRun: ModeRun = {
          share, mode, run, seconds: result.seconds, peakRssMb: Math.round(result.peakRssMb), cpuSeconds: result.cpuSeconds,
          sourceBytes: result.sourceBytes, reportedBytes: result.completed.bytes, walBytes: result.walBytes, durations: result.completed.durations,
          comparedSince: result.completed.comparedSince ?? null,
          tables: (result.completed.tables ?? []).filter((t) => t.mode === 'full' || t.inserted + t.updated + t.deleted > 0)
            .map(({ table, mode: how, inserted, updated, deleted, copiedRows }) => ({ table, mode: how, inserted, updated, deleted, copiedRows })),
          backupSeconds: result.completed.backup?.seconds, backupBytes: result.completed.backup?.bytes,
          verified: ok,
          loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)),
          ...(result.traffic ? { traffic: result.traffic } : {}),
        };
        runs.push(modeRun);
        const full = modeRun.tables.filter((t) => t.mode === 'full').length;
        console.log(`  ${mode.padEnd(11)} ${RUNS > 1 ? `run ${run} ` : ''}${result.seconds.toFixed(2)} s  backup ${modeRun.backupSeconds?.toFixed(2) ?? '–'} s  source ${(result.sourceBytes / 1e6).toFixed(2)} MB  WAL ${(result.walBytes / 1e6).toFixed(1)} MB  `
          + `peak RSS ${modeRun.peakRssMb} MB  ${full} table(s) in full  load ${modeRun.loadAverage}  ${ok ? 'verified' : 'NOT EQUAL'}`
          + (result.traffic ? `\n      ${describeRunTraffic(result.traffic)}` : ''));
        if (!ok) throw new Error(`--mode=${mode} at share ${share} produced a target that differs from the source`);
      }
    }
    // Issue 27: `verify` of the pair as the runs left it (equal), through the link when there is one and without it.
    if (share === 0) {
      for (const direct of setup.link ? [false, true] : [false]) {
        for (let run = 1; run <= RUNS; run++) {
          const logFile = join(args.out, `${prefix}incremental-verify${direct ? '-direct' : ''}${RUNS > 1 ? `-run${run}` : ''}.log`);
          const env = { ...process.env, LOCAL_DATABASE_URI: setup.source.ownerUri(setup.sourceDb), REMOTE_DATABASE_URI: targetUri(setup, direct) };
          const timed = await timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} verify --direction=local-to-remote --log-format=json > ${quoteShell(logFile)}`, env);
          verifies.push({ seconds: timed.seconds, throughLink: setup.link !== undefined && !direct, loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)) });
          console.log(`  verify${direct ? ' (without the link)' : ''} ${RUNS > 1 ? `run ${run} ` : ''}${timed.seconds.toFixed(2)} s`);
        }
      }
    }
    // After every share, so a run cut short still leaves the shares it finished.
    writeIncrementalReport(setup, shares.slice(0, index + 1), modes as ModeName[], initial, startSeconds, changes, runs, verifies, index === shares.length - 1);
  }
  await meter.close();
  await setup.link?.close();
  setup.source.close();
  setup.target.close();
}

/** `archon-sync verify` of the pair, nothing changed since the last run (equal: the command exits 0). */
interface VerifyRun {
  seconds: number;
  throughLink: boolean;
  loadAverage: number;
}

interface InitialSync {
  seconds: number;
  durations: Record<string, number> | undefined;
  traffic: RunTraffic | undefined;
}

function writeIncrementalReport(setup: Setup, shares: number[], modes: ModeName[], initial: InitialSync, startSeconds: number,
  changes: Record<string, TableChanges[]>, runs: ModeRun[], verifies: VerifyRun[], last: boolean): void {
  const own = (share: number, mode: ModeName) => runs.filter((r) => r.share === share && r.mode === mode);
  /** The median over the runs of `mode` at `share` (one run unless --runs), or undefined when it did not run. */
  const medianOf = (share: number, mode: ModeName, pick: (r: ModeRun) => number | undefined) => {
    const values = own(share, mode).map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  const seconds = (share: number, mode: ModeName) => medianOf(share, mode, (r) => r.seconds);
  const ratio = (share: number, mode: ModeName) => {
    const a = seconds(share, mode);
    const f = seconds(share, 'full');
    return a !== undefined && f !== undefined ? a / f : undefined;
  };
  // Where incremental stops paying: the changed share at which its time equals full's, interpolated linearly
  // between the two measured shares that bracket it.
  let crossover: number | undefined;
  for (let i = 1; i < shares.length; i++) {
    const [s0, s1] = [shares[i - 1] ?? 0, shares[i] ?? 0];
    const [r0, r1] = [ratio(s0, 'incremental'), ratio(s1, 'incremental')];
    if (r0 !== undefined && r1 !== undefined && r0 <= 1 && r1 > 1) { crossover = s0 + ((1 - r0) / (r1 - r0)) * (s1 - s0); break; }
  }
  const unchangedBytes = (() => {
    const incremental = medianOf(0, 'incremental', (r) => r.sourceBytes);
    const full = medianOf(0, 'full', (r) => r.sourceBytes);
    return incremental !== undefined && full !== undefined ? incremental / full : undefined;
  })();
  const autoWorst = Math.max(...shares.map((s) => ratio(s, 'auto') ?? 0));
  // The nightly run is the CLI's default mode, auto, where it was timed.
  const nightly: ModeName = modes.includes('auto') ? 'auto' : modes.find((m) => !m.endsWith(DIRECT)) ?? modes[0] ?? 'auto';
  // Issue 27: an unchanged pair verifies in at most 0.05 × a full sync (the same link, or none).
  const verifyOf = (throughLink: boolean) => {
    const times = verifies.filter((v) => v.throughLink === throughLink).map((v) => v.seconds);
    return times.length ? median(times) : undefined;
  };
  const fullSeconds = setup.link ? initial.seconds : seconds(0, 'full');
  const verifySeconds = verifyOf(setup.link !== undefined);
  const verifyOverFull = { target: 0.05, measured: verifySeconds !== undefined && fullSeconds ? verifySeconds / fullSeconds : undefined };
  const linkTargets = setup.link ? {
    // Issue 27, through the link; the 1 % figure is the baseline its later work must halve.
    nightlyMode: nightly,
    unchangedWallSeconds: { target: 1.5, measured: seconds(0, nightly) },
    unchangedTargetStatements: { target: 15, measured: medianOf(0, nightly, (r) => r.traffic?.target.totalStatements) },
    unchangedSourceStatements: { target: 8, measured: medianOf(0, nightly, (r) => r.traffic?.source.totalStatements) },
    onePercentWallSeconds: { measured: seconds(0.01, nightly) },
    unchangedVerifyOverFull: verifyOverFull,
  } : undefined;
  const backupShare = (share: number, mode: ModeName) => {
    const spent = medianOf(share, mode, (r) => r.backupSeconds);
    const wall = seconds(share, mode);
    return spent === undefined || wall === undefined ? undefined : spent / wall;
  };
  const targets = {
    unchangedIncremental: { target: 0.05, measured: ratio(0, 'incremental') },
    unchangedAuto: { target: 0.05, measured: ratio(0, 'auto') },
    onePercentIncremental: { target: 0.1, measured: ratio(0.01, 'incremental') },
    onePercentAuto: { target: 0.1, measured: ratio(0.01, 'auto') },
    autoWorstOverFull: { target: 1.05, measured: autoWorst },
    // Issue 25: keeping the old rows for undo costs at most a tenth of a run at 1 % changed.
    onePercentBackupShareIncremental: { target: 0.1, measured: backupShare(0.01, 'incremental') },
    onePercentBackupShareAuto: { target: 0.1, measured: backupShare(0.01, 'auto') },
    unchangedSourceBytesShare: { target: 0.02, measured: unchangedBytes },
    unchangedVerifyOverFull: verifyOverFull,
  };
  const load = loadavg();
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version,
    postgres: spawnSync(`${PG_BIN}/postgres`, ['--version'], { encoding: 'utf8' }).stdout.trim(), loadAverageAtEnd: load };
  const link = setup.link ? { delayMs: setup.link.delayMs, mbitPerSecond: setup.link.mbitPerSecond } : undefined;
  const report = { date: new Date().toISOString(), scale: args.scale, cli: args.cli, cliArgs: args.cliArgs, shares, modes, runsPerMode: RUNS, rows: setup.counts,
    sourceTableBytes: setup.sourceBytes, machine, ...(link ? { link, cliStartSeconds: startSeconds } : {}), initialFullSeconds: initial.seconds,
    ...(link ? { initial } : {}), changes, ...(linkTargets ? { targets: linkTargets } : { crossover, targets }), runs, verifies };
  const base = `${new Date().toISOString().slice(0, 10)}-scale${args.scale}-${setup.link ? 'link-' : ''}incremental${args.label ? `-${args.label}` : ''}`;
  const file = join(args.out, `${base}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
  const s2 = (value: number | undefined) => value?.toFixed(2) ?? '–';
  const verdict = (t: { target: number; measured: number | undefined }, digits = 3) => t.measured === undefined ? 'not measured'
    : `${t.measured.toFixed(digits)} (≤ ${t.target}: ${t.measured <= t.target ? 'met' : 'MISSED'})`;
  let table: string;
  let lines: string[];
  if (setup.link && linkTargets) {
    const perApp = (t: ServerTraffic | undefined) => Object.entries(t?.statements ?? {}).map(([app, n]) => `${app.replace(/^archon-sync-?/, '') || 'sync'} ${n}`).join(', ');
    table = [
      '| changed | mode | run | wall s | outside sync() s | validation s | compare s | copy s | index s | statements on the target | statements on the source | connections target / source | MB to / from the target | load |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...runs.map((r) => {
        const t = r.traffic;
        return `| ${(r.share * 100).toString()} % | ${r.mode} | ${r.run} | ${r.seconds.toFixed(2)} | ${s2(r.durations?.total === undefined ? undefined : r.seconds - r.durations.total)} | `
          + `${s2(r.durations?.validation)} | ${s2(r.durations?.compare)} | ${s2(r.durations?.copy)} | ${s2(r.durations?.indexing)} | `
          + `${t?.target.totalStatements ?? '–'} (${perApp(t?.target)}) | ${t?.source.totalStatements ?? '–'} (${perApp(t?.source)}) | `
          + `${t?.target.totalConnections ?? '–'} / ${t?.source.totalConnections ?? '–'} | ${t ? `${mb(t.target.bytesToTarget)} / ${mb(t.target.bytesFromTarget)}` : '–'} | ${r.loadAverage} |`;
      }),
    ].join('\n');
    const kindsOf = (share: number) => {
      const run = own(share, nightly)[0]?.traffic;
      if (!run) return [];
      const as = (t: ServerTraffic) => ({ statements: t.totalStatements, connections: t.totalConnections, kinds: t.kinds ?? [] });
      const connections = (t: ServerTraffic) => `  per connection, in order: ${(t.byConnection ?? []).map((c) => `${c.application} ${c.statements}`).join(', ')}`;
      return [`${(share * 100).toString()} % changed, ${nightly}, run 1:`, ...describeTraffic('  target', as(run.target), 25), connections(run.target),
        ...describeTraffic('  source', as(run.source), 25), connections(run.source)];
    };
    lines = [
      `link: ${setup.link.delayMs} ms each way, ${setup.link.mbitPerSecond} Mbit/s each direction; the CLI process alone (node start, --version): ${startSeconds.toFixed(2)} s`,
      `initial full sync through the link: ${initial.seconds.toFixed(2)} s${initial.traffic ? ` (${describeRunTraffic(initial.traffic)})` : ''}`,
      ...shares.flatMap((share) => modes.map((mode) => {
        const times = own(share, mode).map((r) => r.seconds);
        return `${(share * 100).toString()} % changed, ${mode}: median ${s2(seconds(share, mode))} s over ${times.length} run(s)${times.length > 1 ? ` (${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)})` : ''}`;
      })),
      ...shares.flatMap((share) => modes.filter((m) => m.endsWith(DIRECT)).map((directMode) => {
        const through = directMode.slice(0, -DIRECT.length) as ModeName;
        const [a, b] = [seconds(share, through), seconds(share, directMode)];
        return `${(share * 100).toString()} % changed, what the link adds to ${through} (medians, through it − without it): `
          + `${a !== undefined && b !== undefined ? `${(a - b).toFixed(2)} s` : 'not measured'}`;
      })),
      `nothing changed, ${nightly}, wall s: ${verdict(linkTargets.unchangedWallSeconds, 2)}; statements on the target: ${verdict(linkTargets.unchangedTargetStatements, 0)}; `
        + `on the source: ${verdict(linkTargets.unchangedSourceStatements, 0)}`,
      `1 % changed, ${nightly}, wall s: ${s2(linkTargets.onePercentWallSeconds.measured)} (issue 27: later work ≤ 0.5 × the baseline before it)`,
      `verify, nothing changed: through the link ${s2(verifyOf(true))} s, without it ${s2(verifyOf(false))} s; through the link / the initial full sync through it: ${verdict(verifyOverFull)}`,
      `load average at the end: ${load.map((l) => l.toFixed(2)).join(', ')}`,
    ];
    const kinds = shares.flatMap(kindsOf);
    writeFileSync(join(args.out, `${base}.md`), `${table}\n\n${lines.map((l) => `- ${l}`).join('\n')}\n\nStatements by kind (archon-sync's connections, from the servers' logs):\n\n\`\`\`\n${kinds.join('\n')}\n\`\`\`\n`);
    if (last) console.log(`\n${table}\n\n${lines.join('\n')}\n\n${kinds.join('\n')}\nresults: ${file}`);
    return;
  }
  table = [
    '| changed | mode | wall s | × full | backup s | compare s | copy s | index s | source MB | WAL MB | peak RSS MB | tables in full |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${(r.share * 100).toString()} % | ${r.mode} | ${r.seconds.toFixed(2)} | ${ratio(r.share, r.mode)?.toFixed(3) ?? '–'} | ${r.backupSeconds?.toFixed(2) ?? '–'} | `
      + `${r.durations?.compare?.toFixed(2) ?? '–'} | ${r.durations?.copy?.toFixed(2) ?? '–'} | ${r.durations?.indexing?.toFixed(2) ?? '–'} | `
      + `${mb(r.sourceBytes)} | ${mb(r.walBytes)} | ${r.peakRssMb} | ${r.tables.filter((t) => t.mode === 'full').length} |`),
  ].join('\n');
  lines = [
    `nothing changed, incremental / full: ${verdict(targets.unchangedIncremental)}; auto / full: ${verdict(targets.unchangedAuto)}`,
    `1 % changed, incremental / full: ${verdict(targets.onePercentIncremental)}; auto / full: ${verdict(targets.onePercentAuto)}`,
    `auto / full, worst share: ${verdict(targets.autoWorstOverFull)}`,
    `source bytes, nothing changed, incremental / full: ${verdict(targets.unchangedSourceBytesShare)}`,
    `verify, nothing changed: ${s2(verifyOf(false))} s; / full: ${verdict(verifyOverFull)}`,
    `1 % changed, keeping the old rows / the run: incremental ${verdict(targets.onePercentBackupShareIncremental)}; auto ${verdict(targets.onePercentBackupShareAuto)}`,
    `crossover (incremental's wall time = full's): ${crossover === undefined ? 'not bracketed by the measured shares' : `${(crossover * 100).toFixed(1)} % of rows changed`}`,
    `load average at the end: ${load.map((l) => l.toFixed(2)).join(', ')}`,
  ];
  writeFileSync(join(args.out, `${base}.md`), `${table}\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`);
  if (last) console.log(`\n${table}\n\n${lines.join('\n')}\nresults: ${file}`);
}

async function memory(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  const scales = args.scales.split(',').map(Number);
  const rows: { scale: number; seconds: number; peakRssMb: number; verifySeconds: number; verifyPeakRssMb: number; sourceMb: number }[] = [];
  for (const scale of scales) {
    const setup = await prepare(scale);
    const timed = await archonSync(setup, {}, join(args.out, `${args.label ? `${args.label}-` : ''}memory-scale${scale}.log`));
    if (!(await verified(setup))) throw new Error(`scale ${scale}: target differs from source`);
    // The row-by-row comparison streams keys and digests of both sides; it must stay flat too.
    const env = { ...process.env, LOCAL_DATABASE_URI: setup.source.ownerUri(setup.sourceDb), REMOTE_DATABASE_URI: setup.target.ownerUri(setup.targetDb) };
    const verifyLog = join(args.out, `memory-verify-scale${scale}.log`);
    const verify = await timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} verify --direction=local-to-remote --log-format=json > ${quoteShell(verifyLog)}`, env);
    rows.push({
      scale, seconds: timed.seconds, peakRssMb: Math.round(timed.peakRssMb),
      verifySeconds: verify.seconds, verifyPeakRssMb: Math.round(verify.peakRssMb), sourceMb: Math.round(setup.sourceBytes / 1048576),
    });
    console.log(`scale ${scale}: ${Math.round(setup.sourceBytes / 1048576)} MB copied in ${timed.seconds.toFixed(1)} s, peak RSS ${Math.round(timed.peakRssMb)} MB; `
      + `verify ${verify.seconds.toFixed(1)} s, peak RSS ${Math.round(verify.peakRssMb)} MB`);
    setup.source.close();
    setup.target.close();
  }
  const [small, large] = rows;
  const growthOf = (pick: (row: NonNullable<typeof small>) => number) => small && large ? pick(large) / pick(small) - 1 : undefined;
  const growth = growthOf((r) => r.peakRssMb);
  const verifyGrowth = growthOf((r) => r.verifyPeakRssMb);
  console.log(`peak RSS growth from scale ${small?.scale} to ${large?.scale}: sync ${percent(growth)}, verify ${percent(verifyGrowth)}`);
  const file = join(args.out, `${new Date().toISOString().slice(0, 10)}-memory${args.label ? `-${args.label}` : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ cliArgs: args.cliArgs, rows, growth, verifyGrowth }, null, 2)}\n`);
}

if (args.mode === 'memory') await memory();
else if (args.incremental) await incrementalScenarios();
else await compare();
