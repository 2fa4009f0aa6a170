// `npm run bench`: archon-sync side by side with the physical limit (psql binary \copy pipes) and pg_dump | pg_restore.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { generateArchonData } from '../schema/generate.js';
import { plan } from '../src/engine/dry-run.js';
import type { SyncPlan } from '../src/engine/plan.js';
import { ARCHON_TABLES } from '../src/engine/tables.js';
import { PG_BIN, startCluster } from '../test/support/cluster.js';
import { fingerprintTables } from '../test/support/fingerprint.js';
import { TestServer } from '../test/support/servers.js';

const args = await yargs(hideBin(process.argv))
  .option('scale', { type: 'number', default: 1, describe: 'data scale; 1 ≈ 50,000 archon_crawled_pages rows' })
  .option('runs', { type: 'number', default: 3, describe: 'runs of each tool, alternating' })
  .option('mode', { choices: ['compare', 'memory'] as const, default: 'compare' as const, describe: 'compare tools, or peak RSS of archon-sync at two scales' })
  .option('scales', { type: 'string', default: '1,4', describe: 'memory mode: the two scales' })
  .option('tools', { type: 'string', default: 'archon-sync,archon-sync-quiet,baseline,pg_dump', describe: 'which tools to time' })
  .option('out', { type: 'string', default: 'bench/results', describe: 'where results go' })
  .strict()
  .parseAsync();

interface RunResult {
  tool: string;
  run: number;
  seconds: number;
  copySeconds: number | undefined;
  indexSeconds: number | undefined;
  peakRssMb: number;
  verified: boolean;
}

const CLI = resolve('dist/src/cli/main.js');

function timeCommand(command: string, env: NodeJS.ProcessEnv = process.env): { seconds: number; peakRssMb: number; stdout: string } {
  // GNU time reports the largest resident set of the command and of every process it waited for.
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', 'bash', '-o', 'pipefail', '-c', command], {
    env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
  });
  const match = /TIME ([\d.]+) (\d+)\s*$/.exec(result.stderr);
  if (result.status !== 0 || !match) {
    throw new Error(`benchmark command failed (${result.status}): ${command.slice(0, 200)}\n${result.stderr.slice(-2000)}`);
  }
  return { seconds: Number(match[1]), peakRssMb: Number(match[2]) / 1024, stdout: result.stdout };
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
  const counts = await source.asOwner(sourceDb, (client) => generateArchonData(client, { seed: 1, scale }));
  const generateSeconds = (Date.now() - started) / 1000;
  const sizes = await source.asOwner(sourceDb, async (client) => (await client.query<{ bytes: string }>(
    `SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c WHERE c.relname = ANY($1) AND c.relkind = 'r'`, [ARCHON_TABLES])).rows[0]?.bytes);
  await Promise.all([source.admin(sourceDb, (c) => c.query('VACUUM ANALYZE')), target.admin(targetDb, (c) => c.query('VACUUM ANALYZE'))]);
  return { source, target, sourceDb, targetDb, counts, generateSeconds, sourceBytes: Number(sizes ?? 0) };
}

type Setup = Awaited<ReturnType<typeof prepare>>;

async function emptyTarget(setup: Setup): Promise<void> {
  await setup.target.asOwner(setup.targetDb, (client) => client.query(`TRUNCATE ${ARCHON_TABLES.join(', ')} CASCADE`));
}

async function verified(setup: Setup): Promise<boolean> {
  const [a, b] = await Promise.all([
    setup.source.asOwner(setup.sourceDb, (c) => fingerprintTables(c, ARCHON_TABLES)),
    setup.target.asOwner(setup.targetDb, (c) => fingerprintTables(c, ARCHON_TABLES)),
  ]);
  return JSON.stringify(a) === JSON.stringify(b);
}

function archonSync(setup: Setup, quiet: boolean, logFile: string) {
  const env = { ...process.env, LOCAL_DATABASE_URI: setup.source.ownerUri(setup.sourceDb), REMOTE_DATABASE_URI: setup.target.ownerUri(setup.targetDb) };
  const flags = quiet ? '--quiet --no-history --log-format=pretty' : '--log-format=json';
  const timed = timeCommand(`${quoteShell(process.execPath)} -- ${quoteShell(CLI)} --direction=local-to-remote --skip-confirm ${flags} > ${quoteShell(logFile)}`, env);
  let copySeconds: number | undefined;
  let indexSeconds: number | undefined;
  if (!quiet) {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"completed"')) continue;
      const parsed = JSON.parse(line) as { durations?: { copy: number; indexing: number } };
      copySeconds = parsed.durations?.copy;
      indexSeconds = parsed.durations?.indexing;
    }
  }
  return { ...timed, copySeconds, indexSeconds };
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
  return { seconds: copy.seconds + indexing.seconds, peakRssMb: Math.max(copy.peakRssMb, indexing.peakRssMb), copySeconds: copy.seconds, indexSeconds: indexing.seconds };
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
  const results: RunResult[] = [];
  for (let run = 1; run <= args.runs; run++) {
    for (const tool of tools) {
      await emptyTarget(setup);
      const logFile = join(args.out, `${tool}-run${run}.log`);
      const timed = tool === 'archon-sync' ? archonSync(setup, false, logFile)
        : tool === 'archon-sync-quiet' ? archonSync(setup, true, logFile)
          : tool === 'baseline' ? baseline(setup, thePlan)
            : pgDumpRestore(setup);
      const ok = await verified(setup);
      const result: RunResult = {
        tool, run, seconds: timed.seconds, peakRssMb: Math.round(timed.peakRssMb),
        copySeconds: 'copySeconds' in timed ? timed.copySeconds : undefined,
        indexSeconds: 'indexSeconds' in timed ? timed.indexSeconds : undefined,
        verified: ok,
      };
      results.push(result);
      console.log(`run ${run} ${tool.padEnd(18)} ${timed.seconds.toFixed(2)} s  peak RSS ${result.peakRssMb} MB  ${ok ? 'verified' : 'NOT EQUAL'}`);
      if (!ok) throw new Error(`${tool} produced a target that differs from the source`);
    }
  }
  const summary = tools.map((tool) => {
    const own = results.filter((r) => r.tool === tool);
    const times = own.map((r) => r.seconds);
    const med = median(times);
    const copy = own.map((r) => r.copySeconds).filter((x): x is number => x !== undefined);
    const index = own.map((r) => r.indexSeconds).filter((x): x is number => x !== undefined);
    return {
      tool,
      medianSeconds: med,
      minSeconds: Math.min(...times),
      rowsPerSecond: Math.round(Object.values(setup.counts).reduce((a, b) => a + b, 0) / med),
      mbPerSecond: Number((setup.sourceBytes / 1048576 / med).toFixed(1)),
      medianCopySeconds: copy.length ? median(copy) : undefined,
      medianIndexSeconds: index.length ? median(index) : undefined,
      peakRssMb: Math.max(...own.map((r) => r.peakRssMb)),
    };
  });
  const byTool = Object.fromEntries(summary.map((s) => [s.tool, s]));
  const ratios = {
    archonSyncOverBaseline: byTool['archon-sync'] && byTool.baseline ? byTool['archon-sync'].medianSeconds / byTool.baseline.medianSeconds : undefined,
    pgDumpOverArchonSync: byTool['archon-sync'] && byTool.pg_dump ? byTool.pg_dump.medianSeconds / byTool['archon-sync'].medianSeconds : undefined,
    progressAndHistoryCost: byTool['archon-sync'] && byTool['archon-sync-quiet'] ? byTool['archon-sync'].medianSeconds / byTool['archon-sync-quiet'].medianSeconds - 1 : undefined,
  };
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version,
    postgres: spawnSync(`${PG_BIN}/postgres`, ['--version'], { encoding: 'utf8' }).stdout.trim() };
  const report = { date: new Date().toISOString(), scale: args.scale, runs: args.runs, rows: setup.counts, sourceBytes: setup.sourceBytes, machine, summary, ratios, results };
  const stamp = new Date().toISOString().slice(0, 10);
  const file = join(args.out, `${stamp}-scale${args.scale}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const table = [
    '| tool | median s | min s | rows/s | MB/s | copy s | index s | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|',
    ...summary.map((s) => `| ${s.tool} | ${s.medianSeconds.toFixed(2)} | ${s.minSeconds.toFixed(2)} | ${s.rowsPerSecond} | ${s.mbPerSecond} | ${s.medianCopySeconds?.toFixed(2) ?? '–'} | ${s.medianIndexSeconds?.toFixed(2) ?? '–'} | ${s.peakRssMb} |`),
  ].join('\n');
  writeFileSync(join(args.out, `${stamp}-scale${args.scale}.md`), `${table}\n`);
  console.log(`\n${table}\n`);
  console.log(`archon-sync / baseline: ${ratios.archonSyncOverBaseline?.toFixed(3) ?? '–'}   pg_dump|pg_restore / archon-sync: ${ratios.pgDumpOverArchonSync?.toFixed(2) ?? '–'}   progress+history cost: ${ratios.progressAndHistoryCost !== undefined ? `${(ratios.progressAndHistoryCost * 100).toFixed(1)} %` : '–'}`);
  console.log(`results: ${file}`);
  setup.source.close();
  setup.target.close();
}

async function memory(): Promise<void> {
  mkdirSync(args.out, { recursive: true });
  const scales = args.scales.split(',').map(Number);
  const rows: { scale: number; seconds: number; peakRssMb: number; sourceMb: number }[] = [];
  for (const scale of scales) {
    const setup = await prepare(scale);
    const timed = archonSync(setup, false, join(args.out, `memory-scale${scale}.log`));
    if (!(await verified(setup))) throw new Error(`scale ${scale}: target differs from source`);
    rows.push({ scale, seconds: timed.seconds, peakRssMb: Math.round(timed.peakRssMb), sourceMb: Math.round(setup.sourceBytes / 1048576) });
    console.log(`scale ${scale}: ${Math.round(setup.sourceBytes / 1048576)} MB copied in ${timed.seconds.toFixed(1)} s, peak RSS ${Math.round(timed.peakRssMb)} MB`);
    setup.source.close();
    setup.target.close();
  }
  const [small, large] = rows;
  const growth = small && large ? large.peakRssMb / small.peakRssMb - 1 : undefined;
  console.log(`peak RSS growth from scale ${small?.scale} to ${large?.scale}: ${growth !== undefined ? `${(growth * 100).toFixed(1)} %` : '–'}`);
  writeFileSync(join(args.out, `${new Date().toISOString().slice(0, 10)}-memory.json`), `${JSON.stringify({ rows, growth }, null, 2)}\n`);
}

if (args.mode === 'memory') await memory();
else await compare();
