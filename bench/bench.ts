// `npm run bench`: archon-sync side by side with the physical limit (psql binary \copy pipes) and pg_dump | pg_restore.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { generateArchonData } from '../schema/generate.js';
import { ARCHON_TABLES, plan, type SyncPlan } from '../src/index.js';
import { PG_BIN, startCluster } from '../test/support/cluster.js';
import { fingerprintTables } from '../test/support/fingerprint.js';
import { TestServer } from '../test/support/servers.js';

const args = await yargs(hideBin(process.argv))
  .option('scale', { type: 'number', default: 1, describe: 'data scale; 1 ≈ 50,000 archon_crawled_pages rows' })
  .option('runs', { type: 'number', default: 3, describe: 'runs of archon-sync and baseline (the ratio with the tightest target), alternating' })
  .option('other-runs', { type: 'number', default: 1, describe: 'runs of every other tool (pg_dump is far slower; the variants measure one cost each)' })
  .option('mode', { choices: ['compare', 'memory'] as const, default: 'compare' as const, describe: 'compare tools, or peak RSS of archon-sync at two scales' })
  .option('scales', { type: 'string', default: '1,4', describe: 'memory mode: the two scales' })
  .option('tools', {
    type: 'string',
    default: 'archon-sync,baseline,pg_dump,archon-sync-quiet',
    describe: `which tools to time; also archon-sync-checksum (--verify=checksum), container-source and container-target (one side through the docker exec bridge)`,
  })
  .option('cli', { type: 'string', default: 'dist/src/cli/main.js', describe: 'which build of the CLI to time (a patched copy measures one lever)' })
  .option('cli-args', { type: 'string', default: '', describe: 'extra flags for every archon-sync run (e.g. --maintenance-work-mem=2GB)' })
  .option('label', { type: 'string', default: '', describe: 'added to the result file names (e.g. variants)' })
  .option('out', { type: 'string', default: 'bench/results', describe: 'where results go' })
  .strict()
  .parseAsync();

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
}

const CLI = resolve(args.cli);

interface Timed {
  seconds: number;
  peakRssMb: number;
  /** User + system CPU of the client processes (not of the servers): what the tool itself burns. */
  cpuSeconds: number;
}

function timeCommand(command: string, env: NodeJS.ProcessEnv = process.env): Timed {
  // GNU time reports the largest resident set of the command and of every process it waited for.
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M %U %S', 'bash', '-o', 'pipefail', '-c', command], {
    env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
  });
  const match = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
  if (result.status !== 0 || !match) {
    throw new Error(`benchmark command failed (${result.status}): ${command.slice(0, 200)}\n${result.stderr.slice(-2000)}`);
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

async function prepare(scale: number) {
  const [sourceCluster, targetCluster] = await Promise.all([startCluster('bench-source'), startCluster('bench-target')]);
  const source = new TestServer('source', sourceCluster, new URL('postgresql://unused'));
  const target = new TestServer('target', targetCluster, new URL('postgresql://unused'));
  const sourceDb = await source.createDatabase('bench');
  const targetDb = await target.createDatabase('bench');
  const started = Date.now();
  // Every tool only reads the source (COPY TO, pg_dump): its vector and trigram indexes would change no timing
  // and would double the generation time.
  const counts = await source.asOwner(sourceDb, (client) => generateArchonData(client, { seed: 1, scale, secondaryIndexes: false }));
  const generateSeconds = (Date.now() - started) / 1000;
  const sizes = await source.asOwner(sourceDb, async (client) => (await client.query<{ bytes: string }>(
    `SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c WHERE c.relname = ANY($1) AND c.relkind = 'r'`, [ARCHON_TABLES])).rows[0]?.bytes);
  await Promise.all([source.admin(sourceDb, (c) => c.query('VACUUM ANALYZE')), target.admin(targetDb, (c) => c.query('VACUUM ANALYZE'))]);
  return { source, target, sourceDb, targetDb, counts, generateSeconds, sourceBytes: Number(sizes ?? 0) };
}

type Setup = Awaited<ReturnType<typeof prepare>>;

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
}

const VARIANTS: Record<string, Variant> = {
  'archon-sync': {},
  'archon-sync-quiet': { quiet: true },
  'archon-sync-checksum': { checksum: true },
  'container-source': { container: 'source' },
  'container-target': { container: 'target' },
};

/** The pair whose ratio has the tightest target: timed --runs times; everything else --other-runs times. */
const REPEATED_TOOLS = ['archon-sync', 'baseline'];

const FAKE_DOCKER_DIR = resolve('test/fixtures/fake-docker');
const BENCH_CONTAINER = 'bench-db';

function archonSync(setup: Setup, variant: Variant, logFile: string) {
  const through = (side: 'source' | 'target', uri: string) => variant.container === side ? `${uri}&container=${BENCH_CONTAINER}` : uri;
  const env = {
    ...process.env,
    LOCAL_DATABASE_URI: through('source', setup.source.ownerUri(setup.sourceDb)),
    REMOTE_DATABASE_URI: through('target', setup.target.ownerUri(setup.targetDb)),
    ...(variant.container ? { PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`, FAKE_DOCKER_CONTAINERS: BENCH_CONTAINER } : {}),
  };
  const flags = [variant.quiet ? '--quiet --no-history --log-format=pretty' : '--log-format=json', variant.checksum ? '--verify=checksum' : '', args.cliArgs].join(' ');
  const timed = timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} --direction=local-to-remote --skip-confirm ${flags} > ${quoteShell(logFile)}`, env);
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
function baseline(setup: Setup, thePlan: SyncPlan) {
  const src = setup.source.ownerUri(setup.sourceDb);
  const dst = setup.target.ownerUri(setup.targetDb);
  const dropIndexes = thePlan.tables.flatMap((t) => t.indexes.map((i) => `DROP INDEX ${i.schema}.${i.name};`)).join(' ');
  timeCommand(`psql -qX ${quoteShell(dst)} -v ON_ERROR_STOP=1 -c ${quoteShell(dropIndexes)}`);
  const pipes = thePlan.tables.map((t) => {
    const cols = t.columns.map((c) => `"${c}"`).join(', ');
    const out = `\\copy (SELECT ${cols} FROM ${t.sql}) TO STDOUT (FORMAT binary)`;
    const into = `\\copy ${t.sql} (${cols}) FROM STDIN (FORMAT binary)`;
    return `psql -qX ${quoteShell(src)} -v ON_ERROR_STOP=1 -c ${quoteShell(out)} | PGOPTIONS='-c session_replication_role=replica' psql -qX ${quoteShell(dst)} -v ON_ERROR_STOP=1 -c ${quoteShell(into)}`;
  });
  const copy = timeCommand(pipes.join(' && '));
  const createIndexes = ['SET maintenance_work_mem = \'256MB\';', 'SET max_parallel_maintenance_workers = 2;',
    ...thePlan.tables.flatMap((t) => t.indexes.map((i) => `${i.definition};`))].join('\n');
  const indexFile = join(args.out, 'baseline-indexes.sql');
  writeFileSync(indexFile, createIndexes);
  const indexing = timeCommand(`psql -qX ${quoteShell(dst)} -v ON_ERROR_STOP=1 -f ${quoteShell(indexFile)} 2>/dev/null`);
  return {
    seconds: copy.seconds + indexing.seconds, peakRssMb: Math.max(copy.peakRssMb, indexing.peakRssMb),
    cpuSeconds: copy.cpuSeconds + indexing.cpuSeconds, copySeconds: copy.seconds, indexSeconds: indexing.seconds,
  };
}

/** What users reach for today: a custom-format data-only dump piped into a single-transaction restore. */
function pgDumpRestore(setup: Setup) {
  const tables = ARCHON_TABLES.map((t) => `-t public.${t}`).join(' ');
  const source = setup.source.cluster;
  const target = setup.target.cluster;
  if (!source || !target) throw new Error('the benchmark needs harness-started clusters');
  // --disable-triggers needs a superuser, so both ends run as postgres over the Unix socket.
  const dump = `${PG_BIN}/pg_dump -Fc --data-only ${tables} -h ${source.socketDir} -p ${source.port} -U postgres ${setup.sourceDb}`;
  const restore = `${PG_BIN}/pg_restore --data-only --disable-triggers --single-transaction -h ${target.socketDir} -p ${target.port} -U postgres -d ${setup.targetDb}`;
  return timeCommand(`${dump} | ${restore}`);
}

async function compare(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  console.log(`preparing scale ${args.scale} …`);
  const setup = await prepare(args.scale);
  console.log(`generated ${Object.values(setup.counts).reduce((a, b) => a + b, 0)} rows (${(setup.sourceBytes / 1048576).toFixed(0)} MB of table data) in ${setup.generateSeconds.toFixed(1)} s`);
  const thePlan = await plan({ source: setup.source.ownerUri(setup.sourceDb), target: setup.target.ownerUri(setup.targetDb) });
  const tools = args.tools.split(',').map((t) => t.trim());
  const unknown = tools.filter((t) => !(t in VARIANTS) && t !== 'baseline' && t !== 'pg_dump');
  if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(', ')}; known: ${[...Object.keys(VARIANTS), 'baseline', 'pg_dump'].join(', ')}`);
  const results: RunResult[] = [];
  for (let run = 1; run <= Math.max(args.runs, args.otherRuns); run++) {
    // Rotated each run, so no tool always goes first (after generation) or always follows the same one.
    const order = tools.map((_, i) => tools[(i + run - 1) % tools.length] as string)
      .filter((tool) => run <= (REPEATED_TOOLS.includes(tool) ? args.runs : args.otherRuns));
    for (const tool of order) {
      await resetTarget(setup);
      const logFile = join(args.out, `${args.label ? `${args.label}-` : ''}${tool}-run${run}.log`);
      const variant = VARIANTS[tool];
      const timed: Timed & { copySeconds?: number | undefined; indexSeconds?: number | undefined; verifySeconds?: number | undefined } = variant ? archonSync(setup, variant, logFile)
        : tool === 'baseline' ? baseline(setup, thePlan)
          : pgDumpRestore(setup);
      const ok = await verified(setup);
      const result: RunResult = {
        tool, run, seconds: timed.seconds, peakRssMb: Math.round(timed.peakRssMb), cpuSeconds: timed.cpuSeconds,
        copySeconds: timed.copySeconds,
        indexSeconds: timed.indexSeconds,
        verifySeconds: timed.verifySeconds,
        verified: ok,
      };
      results.push(result);
      console.log(`run ${run} ${tool.padEnd(20)} ${timed.seconds.toFixed(2)} s  client CPU ${timed.cpuSeconds.toFixed(2)} s  peak RSS ${result.peakRssMb} MB  ${ok ? 'verified' : 'NOT EQUAL'}`);
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
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version,
    postgres: spawnSync(`${PG_BIN}/postgres`, ['--version'], { encoding: 'utf8' }).stdout.trim() };
  const report = { date: new Date().toISOString(), scale: args.scale, cli: args.cli, cliArgs: args.cliArgs, runs: args.runs, otherRuns: args.otherRuns, tools, rows: setup.counts, sourceBytes: setup.sourceBytes, machine, summary, ratios, results };
  const stamp = new Date().toISOString().slice(0, 10);
  const base = `${stamp}-scale${args.scale}${args.label ? `-${args.label}` : ''}`;
  const file = join(args.out, `${base}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const table = [
    '| tool | median s | min s | rows/s | MB/s | copy s | index s | verify s | client CPU s | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...summary.map((s) => `| ${s.tool} | ${s.medianSeconds.toFixed(2)} | ${s.minSeconds.toFixed(2)} | ${s.rowsPerSecond} | ${s.mbPerSecond} | ${s.medianCopySeconds?.toFixed(2) ?? '–'} | ${s.medianIndexSeconds?.toFixed(2) ?? '–'} | ${s.medianVerifySeconds?.toFixed(2) ?? '–'} | ${s.medianCpuSeconds.toFixed(2)} | ${s.peakRssMb} |`),
  ].join('\n');
  console.log(`\n${table}\n`);
  const ratioLines = [
    `archon-sync / baseline: ${ratios.archonSyncOverBaseline?.toFixed(3) ?? '–'}`,
    `pg_dump|pg_restore / archon-sync: ${ratios.pgDumpOverArchonSync?.toFixed(2) ?? '–'}`,
    `progress + history cost: ${percent(ratios.progressAndHistoryCost)} of wall time; their client CPU: ${percent(ratios.progressAndHistoryCpuShare)} of wall time`,
    `--verify=checksum over count: ${percent(ratios.checksumOverCount)}`,
    `docker exec bridge, source side: ${percent(ratios.containerSourceOverDirect)}; target side: ${percent(ratios.containerTargetOverDirect)}`,
  ];
  writeFileSync(join(args.out, `${base}.md`), `${table}\n\n${ratioLines.map((l) => `- ${l}`).join('\n')}\n`);
  console.log(ratioLines.join('\n'));
  console.log(`results: ${file}`);
  setup.source.close();
  setup.target.close();
}

async function memory(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  const scales = args.scales.split(',').map(Number);
  const rows: { scale: number; seconds: number; peakRssMb: number; verifySeconds: number; verifyPeakRssMb: number; sourceMb: number }[] = [];
  for (const scale of scales) {
    const setup = await prepare(scale);
    const timed = archonSync(setup, {}, join(args.out, `${args.label ? `${args.label}-` : ''}memory-scale${scale}.log`));
    if (!(await verified(setup))) throw new Error(`scale ${scale}: target differs from source`);
    // The row-by-row comparison streams keys and digests of both sides; it must stay flat too.
    const env = { ...process.env, LOCAL_DATABASE_URI: setup.source.ownerUri(setup.sourceDb), REMOTE_DATABASE_URI: setup.target.ownerUri(setup.targetDb) };
    const verifyLog = join(args.out, `memory-verify-scale${scale}.log`);
    const verify = timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} verify --direction=local-to-remote --log-format=json > ${quoteShell(verifyLog)}`, env);
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
else await compare();
