// Reaches a PostgreSQL whose port is only open inside a Docker container: a Duplex for node-postgres over `docker exec -i`.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';
import { ConnectionError } from '../errors.js';

export interface ContainerStreamOptions {
  /** Container name or ID, as `docker ps` shows it. */
  container: string;
  /** PostgreSQL's host and port as seen from inside the container (usually localhost:5432). */
  host: string;
  port: number;
  /** The docker executable; default `docker` from PATH (podman's CLI works too). */
  docker?: string | undefined;
}

/** Why the transport failed, for callers and logs; the message says it to people. */
export type DockerTransportFailure =
  | 'docker-missing'
  | 'docker-unreachable'
  | 'no-such-container'
  | 'container-not-running'
  | 'no-bash'
  | 'no-dev-tcp'
  | 'bridge-cannot-connect'
  | 'docker-exec-failed'
  | 'bridge-ended';

// Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]+ and IDs are hex; anything else (a leading "-" above all) could be read
// by docker as one of its own options.
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** True when `name` can only be a container name or ID on docker's command line. */
export function isContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name) && name.length <= 255;
}

const READY_LINE = 'archon-sync-bridge: connected';
const CONNECT_FAILED_STATUS = 97;

/**
 * The bridge, run by bash inside the container with host and port as $1 and $2. It needs only bash (with /dev/tcp,
 * which Debian and Ubuntu build in) and cat: both are in every Debian/Ubuntu image, postgres:15 and supabase/postgres
 * included. It connects before saying it is ready, so refusals arrive as connect errors, not as a dead stream.
 * Whichever direction ends first ends both: stdin closing (the client finished or died) must close the socket so the
 * server ends the session and rolls back, and the server closing must end stdout so the client sees it.
 * Neither the script nor its arguments carry the password: it only travels inside the protocol over the pipe.
 */
const BRIDGE_SCRIPT = [
  `exec 3<>"/dev/tcp/$1/$2" || exit ${CONNECT_FAILED_STATUS}`,
  'exec 4<&0',
  `echo '${READY_LINE}' >&2`,
  'cat <&3 & reader=$!',
  'cat <&4 >&3 & writer=$!',
  'wait -n',
  'kill "$reader" "$writer" 2>/dev/null',
  'exit 0',
].join('\n');

/** The argv given to docker: nothing secret in it, since every process's arguments are public (ps). */
export function dockerExecArgs(container: string, host: string, port: number): string[] {
  return ['exec', '-i', container, 'bash', '-c', BRIDGE_SCRIPT, 'archon-sync-bridge', host, String(port)];
}

// Stderr is only kept for the error message; a bounded tail is enough and a chatty failure cannot grow memory.
const STDERR_LIMIT = 8192;
// After stdin closes the bridge ends on its own; this only catches a docker CLI that hangs.
const EXIT_GRACE_MS = 5_000;

/** One line from docker's or bash's stderr that explains a failure, without docker's own prefixes. */
function explanation(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && line !== READY_LINE);
  const line = lines.find((l) => /error|no such|not running|cannot|denied|failed/i.test(l)) ?? lines[0] ?? '';
  return line.replace(/^(Error response from daemon|Error):\s*/i, '').replace(/\s+/g, ' ').slice(0, 300);
}

/** Turns how `docker exec` ended (before the bridge was up, or after) into one actionable line. */
export function classifyDockerFailure(
  options: ContainerStreamOptions,
  stderr: string,
  exitCode: number | null,
  connected: boolean,
): { reason: DockerTransportFailure; message: string } {
  const name = options.container;
  const target = `${options.host}:${options.port}`;
  const said = explanation(stderr);
  if (/no such container|no container with name or id/i.test(stderr)) {
    return { reason: 'no-such-container', message: `there is no Docker container "${name}"; docker ps lists the running ones (self-hosted Supabase: supabase-db; supabase start: supabase_db_<project>)` };
  }
  if (/is paused/i.test(stderr)) {
    return { reason: 'container-not-running', message: `Docker container "${name}" is paused; docker unpause ${name}, then retry` };
  }
  if (/is not running|is restarting|state improper/i.test(stderr)) {
    return { reason: 'container-not-running', message: `Docker container "${name}" is not running; start it (docker start ${name}, or docker compose up -d) and retry` };
  }
  if (/cannot connect to the docker daemon|docker daemon is not running|permission denied while trying to connect/i.test(stderr)) {
    return { reason: 'docker-unreachable', message: `docker cannot reach its daemon (${said}); start Docker, or run archon-sync as a user allowed to use it` };
  }
  if (/executable file not found|exec: "?bash"?: .*no such file/i.test(stderr)) {
    return { reason: 'no-bash', message: `Docker container "${name}" has no bash, which container= needs; publish PostgreSQL's port (or use the pooler's) and connect to it instead` };
  }
  if (!connected && /\/dev\/tcp\/[^\n]*: No such file or directory/.test(stderr) && !/connect:/.test(stderr)) {
    return { reason: 'no-dev-tcp', message: `bash in Docker container "${name}" has no /dev/tcp (built without network redirections); publish PostgreSQL's port (or use the pooler's) and connect to it instead` };
  }
  if (!connected && (exitCode === CONNECT_FAILED_STATUS || /\/dev\/tcp\//.test(stderr))) {
    const refused = /connect: ([^\n]+)/.exec(stderr)?.[1]?.trim();
    const unresolved = /: (Name or service not known|Temporary failure in name resolution|No address associated with hostname)/i.exec(stderr)?.[1];
    const why = refused ? refused.toLowerCase() : unresolved ? `host name "${options.host}" cannot be resolved there` : said || `exit ${exitCode}`;
    return {
      reason: 'bridge-cannot-connect',
      message: `inside Docker container "${name}", nothing accepts connections at ${target} (${why}); the URI's host and port are used inside the container, usually localhost:5432`,
    };
  }
  if (connected) {
    return { reason: 'bridge-ended', message: `the docker exec bridge into container "${name}" ended (exit ${exitCode ?? 'by signal'}${said ? `: ${said}` : ''})` };
  }
  return { reason: 'docker-exec-failed', message: `docker exec into container "${name}" failed (exit ${exitCode ?? 'by signal'}${said ? `: ${said}` : ''})` };
}

function transportError(options: ContainerStreamOptions, reason: DockerTransportFailure, message: string, cause?: unknown): ConnectionError {
  return new ConnectionError(message, { cause, details: { transport: 'docker', reason, container: options.container } });
}

/**
 * The socket node-postgres gets instead of TCP. It implements what pg's Connection calls on a socket (connect,
 * setNoDelay, setKeepAlive, ref, unref) and emits 'connect' once the bridge inside the container has reached
 * PostgreSQL, so docker and bridge failures reject `client.connect()` with a ConnectionError.
 */
class DockerExecStream extends Duplex {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stderr = '';
  private connected = false;

  constructor(private readonly options: ContainerStreamOptions) {
    // A socket ends both ways when the peer closes; so does this stream.
    super({ allowHalfOpen: false, readableHighWaterMark: 64 * 1024 });
  }

  /** pg passes the URI's port and host; the bridge already has them from the options. */
  connect(_port?: number, _host?: string): this {
    if (this.child) return this;
    const options = this.options;
    const child = spawn(options.docker ?? 'docker', dockerExecArgs(options.container, options.host, options.port), {
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal must reach archon-sync alone, which then cancels and rolls back
      // over this very bridge; docker receiving it too would cut the connection first.
      detached: true,
      windowsHide: true,
    });
    this.child = child;
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        this.fail(transportError(options, 'docker-missing',
          `the docker command is not on PATH (needed for container=${options.container}); install Docker's CLI, or publish PostgreSQL's port and drop container= from the URI`, error));
      } else {
        this.fail(transportError(options, 'docker-exec-failed', `cannot run docker for container=${options.container}: ${error.message}`, error));
      }
    });
    // EPIPE when docker is gone: its exit, reported below, says why.
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_LIMIT);
      if (!this.connected && this.stderr.includes(READY_LINE)) {
        this.connected = true;
        this.emit('connect');
      }
    });
    // 'close' comes after the exit and after stdout and stderr are drained, so the verdict sees all of stderr.
    child.on('close', (code) => {
      if (this.destroyed) return;
      if (this.connected && code === 0) {
        this.push(null);
        return;
      }
      const { reason, message } = classifyDockerFailure(options, this.stderr, code, this.connected);
      this.fail(transportError(options, reason, message));
    });
    return this;
  }

  private fail(error: ConnectionError): void {
    if (!this.destroyed) this.destroy(error);
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** The connection inside the container is to a local port; there is no network path here to keep alive. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  ref(): this {
    this.child?.ref();
    return this;
  }

  unref(): this {
    this.child?.unref();
    return this;
  }

  override _read(): void {
    this.child?.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const child = this.child;
    if (!child) {
      callback(new Error('write before connect on the docker transport'));
      return;
    }
    if (child.stdin.write(chunk)) callback();
    else child.stdin.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child?.stdin.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      // Closing stdin lets the bridge close its socket itself; killing docker first could leave the socket open inside.
      child.stdin.destroy();
      child.stdout.resume();
      const timer = setTimeout(() => child.kill('SIGTERM'), EXIT_GRACE_MS);
      timer.unref();
      child.once('exit', () => clearTimeout(timer));
    }
    callback(error);
  }
}

/** A fresh bridged stream for one pg connection; pass it as `stream: () => containerStream(…)` in pg's client config. */
export function containerStream(options: ContainerStreamOptions): Duplex {
  return new DockerExecStream(options);
}
