// Runs the built CLI under a pseudo-terminal (util-linux `script`) and replays its output into screen frames.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH } from './cli.js';
import { unguardedArgs } from './unguarded.js';

export interface PtyOptions {
  env?: Record<string, string | undefined>;
  /** Keep the deletion guard and the target-edit question on; default off (see unguarded.ts). */
  guarded?: boolean;
  cwd?: string;
  timeoutMs?: number;
  /** What a person types, written to the terminal at once (the pty holds it until the CLI reads); then input ends. */
  input?: string;
  /**
   * What a person types once the screen shows `when` (a prompt): keys like Ctrl-D mean what they mean only to a
   * program reading the terminal at that moment. Input stays open until then.
   */
  answer?: {
    when: RegExp;
    /** Keys to type, after which input ends; without them the question is left waiting, as by a person who walked away. */
    keys?: string;
    /** Something to do meanwhile (a server lost while the question waits). */
    act?: () => Promise<void>;
  };
  /** Terminal size the CLI sees (stty inside the pty); default 120 × 40. */
  columns?: number;
  rows?: number;
}

export interface PtyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything the CLI wrote to its terminal (stdout and stderr share it), escape sequences and all. */
  raw: string;
  /**
   * What a person saw of the redrawn lines: each time the output moves the cursor up to redraw, the lines it
   * is about to overwrite, as they stood, plain text. One frame per redraw, in order.
   */
  frames: string[][];
  /** The screen at the end, plain text, one string per line. */
  screen: string[];
}

/** The environment a test CLI starts from: ours minus anything that could point it elsewhere. */
function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of ['LOCAL_DATABASE_URI', 'REMOTE_DATABASE_URI', 'PGPASSWORD', 'PGSSLMODE', 'PGUSER', 'DEBUG', 'NODE_TEST_CONTEXT', 'NO_COLOR']) delete env[key];
  return env;
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

let checkedScript = false;
function requireScript(): void {
  if (checkedScript) return;
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('these tests need `script` from util-linux (Debian: apt-get install bsdutils)');
  checkedScript = true;
}

/**
 * `script -qefc "<cmd>" /dev/null`: the command runs on a fresh pty (stdout and stderr are terminals), script
 * copies what it writes to our pipe, and -e passes its exit code back. No native modules needed.
 */
export function runCliInPty(args: string[], options: PtyOptions = {}): Promise<PtyResult> {
  requireScript();
  const command = [
    `stty cols ${options.columns ?? 120} rows ${options.rows ?? 40} 2>/dev/null;`,
    'exec', shellQuote(process.execPath), '--', shellQuote(CLI_PATH), ...unguardedArgs(args, options.guarded).map(shellQuote),
  ].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd: options.cwd ?? mkdtempSync(join(tmpdir(), 'archon-sync-pty-')),
      env: { ...baseEnv(), TERM: 'xterm-256color', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    let answered = false;
    child.stdout.on('data', (d: Buffer) => {
      chunks.push(d);
      const answer = options.answer;
      if (answer && !answered && answer.when.test(Buffer.concat(chunks).toString('utf8'))) {
        answered = true;
        void (answer.act?.() ?? Promise.resolve()).then(() => {
          if (answer.keys !== undefined) child.stdin.end(answer.keys);
        }, reject);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8') + stderr;
      resolve({ code, signal, raw, ...replay(raw) });
    });
    if (!options.answer) child.stdin.end(options.input);
  });
}

/**
 * A small terminal: printable text, CR, LF, and the CSI sequences cli-progress and readline use (cursor up,
 * down, column, erase line, erase below); colours and modes are dropped. Enough to see what a person saw.
 */
export function replay(raw: string): { frames: string[][]; screen: string[] } {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const frames: string[][] = [];
  const line = (r: number) => {
    while (lines.length <= r) lines.push([]);
    return lines[r]!;
  };
  const text = (r: number) => line(r).map((c) => c ?? ' ').join('').trimEnd();
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\u001b') {
      const next = raw[i + 1];
      if (next === '[') {
        const match = /^\[([?]?)([0-9;]*)([@-~])/.exec(raw.slice(i + 1, i + 40));
        if (!match) continue;
        i += match[0].length;
        if (match[1] === '?') continue;
        const params = (match[2] ?? '').split(';').map((p) => (p === '' ? undefined : Number(p)));
        const n = params[0] ?? 1;
        switch (match[3]) {
          case 'A': {
            const top = Math.max(0, row - n);
            frames.push(Array.from({ length: row - top + 1 }, (_, k) => text(top + k)));
            row = top;
            break;
          }
          case 'B': row += n; break;
          case 'C': col += n; break;
          case 'D': col = Math.max(0, col - n); break;
          case 'G': col = Math.max(0, n - 1); break;
          case 'K': {
            const l = line(row);
            const mode = params[0] ?? 0;
            if (mode === 0) l.length = Math.min(l.length, col);
            else if (mode === 1) for (let k = 0; k <= col && k < l.length; k++) l[k] = ' ';
            else l.length = 0;
            break;
          }
          case 'J': {
            const mode = params[0] ?? 0;
            if (mode === 0) {
              line(row).length = Math.min(line(row).length, col);
              lines.length = row + 1;
            } else if (mode === 2) {
              for (const l of lines) l.length = 0;
            }
            break;
          }
          default: break; // colours (m) and the rest change nothing we read
        }
      } else if (next === '7') {
        saved = { row, col };
        i += 1;
      } else if (next === '8') {
        ({ row, col } = saved);
        i += 1;
      } else {
        i += 1;
      }
      continue;
    }
    if (ch === '\r') { col = 0; continue; }
    if (ch === '\n') { row += 1; line(row); continue; }
    if (ch < ' ') continue;
    const l = line(row);
    while (l.length < col) l.push(' ');
    l[col] = ch;
    col += 1;
  }
  return { frames, screen: lines.map((_, r) => text(r)) };
}
