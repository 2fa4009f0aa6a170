// Runs the built archon-sync CLI as a child process, as users and cron do.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import './state-home.js';
import { unguardedArgs } from './unguarded.js';

export const CLI_PATH = resolve('dist/src/cli/archon-sync.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Working directory; default: a fresh empty directory, so no stray .env is read. */
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Keep the deletion guard and the target-edit refusal on (the safety tests); default: off, see unguarded.ts. */
  guarded?: boolean;
  /** Called once the process is running (to send signals, watch output). */
  onSpawn?: (child: ChildProcess, output: { stdout: () => string; stderr: () => string }) => void;
}

export function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), 'archon-sync-cli-'));
}

/** The environment a CLI test starts from: ours minus anything that could point the CLI elsewhere. */
function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of ['LOCAL_DATABASE_URI', 'REMOTE_DATABASE_URI', 'PGPASSWORD', 'PGSSLMODE', 'PGUSER', 'DEBUG', 'NODE_TEST_CONTEXT']) delete env[key];
  return env;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // `--` as in the bin's shebang: Node 20 would otherwise take --env-file for its own option.
    const child = spawn(process.execPath, ['--', CLI_PATH, ...unguardedArgs(args, options.guarded)], {
      cwd: options.cwd ?? emptyDir(),
      env: { ...baseEnv(), ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
    options.onSpawn?.(child, { stdout: () => stdout, stderr: () => stderr });
  });
}

/** Parses pino JSON lines; throws if any stdout line is not JSON (json mode must print nothing else). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The `archon-sync:` lines a run printed on stderr (a failure prints exactly one). */
export function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.startsWith('archon-sync:'));
}

/** The one `archon-sync:` line of a failed run. */
export function errorLine(result: CliResult): string {
  const lines = errorLines(result);
  assert.equal(lines.length, 1, `expected one error line, got: ${result.stderr}`);
  return lines[0] ?? '';
}
