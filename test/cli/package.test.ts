// The package as users get it: packed from the sources, installed with npm, run as a command and imported as a library.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { jsonLines } from '../support/cli.js';
import { filledDatabase, fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { testServers, type TestServers } from '../support/servers.js';
import { UNGUARDED_FLAGS } from '../support/unguarded.js';

const REPO = resolve('.');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
/** What a fresh clone does not have: packing must not depend on a build lying around. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', '.git', '.archon-sync']);
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

interface Run { code: number | null; stdout: string; stderr: string }

/**
 * Our environment without what `npm test` injects for its own script (npm_config_local_prefix would point a
 * nested npm at this repository) and without anything that could point the CLI at other databases.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('npm_') || ['LOCAL_DATABASE_URI', 'REMOTE_DATABASE_URI', 'PGPASSWORD', 'NODE_TEST_CONTEXT'].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(command, args, { cwd: options.cwd, env: userEnv(options.env), timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A number is the exit code; anything else (ENOENT, a timeout's signal) means it never ran or was killed.
        const ranToExit = !error || typeof error.code === 'number';
        resolvePromise({ code: error ? (ranToExit ? error.code as number : null) : 0, stdout, stderr: ranToExit ? stderr : `${stderr}${error.message}` });
      });
  });
}

function assertRan(result: Run, what: string): void {
  assert.equal(result.code, 0, `${what} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
}

let servers: TestServers;
let work: string;
let tarball: string;
let packedFiles: string[];
let installedBin: string;

/**
 * Packs a copy of the sources rather than this checkout: packing rebuilds dist/src, which other test files
 * running at the same time execute. The copy borrows node_modules, as `npm ci` would have filled it.
 */
async function packFromSources(): Promise<void> {
  const sources = join(work, 'sources');
  cpSync(REPO, sources, { recursive: true, filter: (path) => !NOT_IN_A_CLONE.has(relative(REPO, path)) });
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(sources, 'node_modules'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: sources });
  assertRan(packed, 'npm pack');
  // The prepack and prepare scripts may print to stdout ahead of npm's JSON.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  const first = report[0];
  assert.ok(first, `npm pack reported nothing: ${packed.stdout}`);
  tarball = join(work, first.filename);
  packedFiles = first.files.map((file) => file.path).sort();
}

async function installGlobally(): Promise<void> {
  const prefix = join(work, 'prefix');
  const installed = await run('npm', ['install', '--global', '--prefix', prefix, ...NPM_QUIET, tarball], { cwd: work });
  assertRan(installed, 'npm install --global');
  installedBin = join(prefix, 'bin', 'archon-sync');
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'archon-sync-package-'));
  [servers] = await Promise.all([testServers(), packFromSources().then(installGlobally)]);
});
after(async () => {
  await servers?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  test('npm pack builds dist itself and ships only the library, the command, the schema SQL and the README', () => {
    assert.match(tarball, new RegExp(`archon-sync-${VERSION.replaceAll('.', '\\.')}\\.tgz$`));
    for (const needed of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/src/cli/archon-sync.js', 'schema/sync-history.sql']) {
      assert.ok(packedFiles.includes(needed), `the tarball lacks ${needed}`);
    }
    const unexpected = packedFiles.filter((path) =>
      !['package.json', 'README.md', 'LICENSE'].includes(path)
      && !/^dist\/src\/.+\.(js|d\.ts)$/.test(path)
      && !/^schema\/[^/]+\.sql$/.test(path));
    assert.deepEqual(unexpected, [], 'files users do not need');
  });

  test('installed globally, archon-sync is a command on PATH that prints its usage and version', async () => {
    const help = await run(installedBin, ['--help'], { cwd: work });
    assertRan(help, 'archon-sync --help');
    assert.match(help.stdout, /archon-sync --direction=local-to-remote\|remote-to-local/);
    assert.match(help.stdout, /Exit codes/);
    const version = await run(installedBin, ['--version'], { cwd: work });
    assertRan(version, 'archon-sync --version');
    assert.equal(version.stdout.trim(), VERSION);
  });

  test('the installed command syncs one database into another, leaving the target equal to the source', async () => {
    const [local, remote] = await Promise.all([
      filledDatabase(servers.source, 1, undefined, 'local'),
      filledDatabase(servers.target, 2, undefined, 'remote'),
    ]);
    // A target filled with other rows: overwriting them is the point here (test/support/unguarded.ts).
    const result = await run(installedBin, ['--direction=local-to-remote', '--skip-confirm', '--log-format=json', ...UNGUARDED_FLAGS], {
      cwd: work,
      env: { LOCAL_DATABASE_URI: servers.source.ownerUri(local), REMOTE_DATABASE_URI: servers.target.ownerUri(remote) },
    });
    assertRan(result, 'archon-sync');
    assert.ok(jsonLines(result.stdout).some((line) => line.event === 'completed'), result.stdout);
    const [source, target] = await Promise.all([
      fingerprintDatabase(servers.source, local, ARCHON_TABLES),
      fingerprintDatabase(servers.target, remote, ARCHON_TABLES),
    ]);
    assert.deepEqual(target, source);
  });

  test('init-history of the installed command reads the schema SQL shipped in the package', async () => {
    const remote = await servers.target.createDatabase('remote');
    await ownerSql(servers.target, remote, 'DROP TABLE archon_sync_history');
    const result = await run(installedBin, ['init-history', '--database=remote', '--log-format=json'], {
      cwd: work,
      env: { LOCAL_DATABASE_URI: 'postgresql://unused@127.0.0.1/unused', REMOTE_DATABASE_URI: servers.target.ownerUri(remote) },
    });
    assertRan(result, 'archon-sync init-history');
    assert.deepEqual(await ownerSql(servers.target, remote, "SELECT to_regclass('archon_sync_history') IS NOT NULL AS present"), [{ present: true }]);
  });

  test('a scratch ESM project installs the tarball, imports sync and ARCHON_TABLES, and type-checks against its declarations', async () => {
    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    assertRan(await run('npm', ['install', ...NPM_QUIET, tarball], { cwd: project }), 'npm install <tarball>');

    writeFileSync(join(project, 'imports.mjs'), [
      "import { sync, ARCHON_TABLES } from 'archon-sync';",
      'console.log(JSON.stringify({ sync: typeof sync, tables: ARCHON_TABLES.length }));',
    ].join('\n'));
    const imported = await run(process.execPath, ['imports.mjs'], { cwd: project });
    assertRan(imported, 'node imports.mjs');
    assert.deepEqual(JSON.parse(imported.stdout), { sync: 'function', tables: ARCHON_TABLES.length });

    // skipLibCheck off: the shipped declarations themselves must resolve (pg's types among them).
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false },
      files: ['uses-types.ts'],
    }));
    writeFileSync(join(project, 'uses-types.ts'), [
      "import { sync, ARCHON_TABLES, CancelledError, type SyncOptions, type SyncResult } from 'archon-sync';",
      "const options: SyncOptions = { source: 'postgresql://a@h/db', target: 'postgresql://b@h/db', verify: 'checksum' };",
      'const run: (options: SyncOptions) => Promise<SyncResult> = sync;',
      'const first: string | undefined = ARCHON_TABLES[0];',
      "// @ts-expect-error verify is 'count' or 'checksum': fails to compile only if the types are really there",
      "const wrong: SyncOptions = { source: 'a', target: 'b', verify: 'sometimes' };",
      'export { options, run, first, wrong, CancelledError };',
    ].join('\n'));
    const typed = await run(process.execPath, [TSC, '-p', project], { cwd: project });
    assertRan(typed, 'tsc --noEmit');
  });
});
