// Counts what clients sent a harness cluster, per application_name, from its server log with log_statement = all.
//
// What is counted, and why it stands for round trips:
// - `LOG:  statement: …` is written once per simple-query message ('Q'). A client that waits for each answer (the pg
//   driver does) pays one round trip for it. Several statements sent in one message ("SET …; SET …; SELECT …")
//   are one line and one round trip, which is what batching buys.
// - `LOG:  execute <name>: …` (and `execute fetch from <name>/<portal>: …` for each further batch of a cursor) is
//   written once per extended-protocol Execute. The pg driver sends Parse/Bind/Execute/Sync together and waits
//   for ReadyForQuery, so each is one round trip too. (A client that pipelined several Executes before one Sync
//   would be over-counted; archon-sync's driver does not.) Parse and Bind are not logged by log_statement.
// - `LOG:  connection authorized: … application_name=…` is one new connection; these are counted apart: each
//   costs the TCP handshake and three turns of SCRAM authentication, but no statement.
// Not visible in the log, so not counted: the extra turn of a COPY FROM STDIN (the client waits for
// CopyInResponse before it streams, and for CommandComplete after CopyDone), and Terminate. The statement count
// is therefore the number of turns a run pays on one side, give or take one per COPY.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Cluster } from './cluster.js';

/** Server settings (ClusterOptions.settings) that make the log above; nothing else in the harness depends on them. */
export const STATEMENT_LOG_SETTINGS: Readonly<Record<string, string | number>> = {
  log_statement: 'all',
  log_connections: 'on',
  // The backend's pid and application_name on every line (PostgreSQL writes "[unknown]" while there is none).
  log_line_prefix: '%m [%p] <%a> ',
  // Parameter values are not needed to count and can be large (embeddings).
  log_parameter_max_length: 0,
};

export interface LoggedStatement {
  pid: number;
  /** '' for a client that set no application_name (the harness's own clients). */
  application: string;
  protocol: 'simple' | 'extended';
  /** The statement text as logged (several statements when one simple query carried them). */
  text: string;
}

export interface LoggedConnection {
  pid: number;
  application: string;
}

export interface StatementLogExcerpt {
  statements: LoggedStatement[];
  connections: LoggedConnection[];
}

/** What one application sent one server. */
export interface ApplicationTraffic {
  statements: number;
  connections: number;
  /** Statement kinds (see statementKind), most frequent first. */
  kinds: [kind: string, count: number][];
}

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] <(.*?)> ([A-Z]+): {2}(.*)$/;
const STATEMENT = /^statement: ([\s\S]*)$/;
const EXECUTE = /^execute(?: fetch from)? [^:]*: ([\s\S]*)$/;
const CONNECTION = /^connection authorized: /;
/** The name is the message's last field unless TLS or GSS details follow it. */
const CONNECTION_APPLICATION = /application_name=(.*?)(?: SSL enabled \(.*| GSS .*)?$/;
const NO_APPLICATION = '[unknown]';

/** Parses the log lines written with STATEMENT_LOG_SETTINGS; continuation lines (a tab first) belong to the line before. */
export function parseStatementLog(log: string): StatementLogExcerpt {
  const messages: { pid: number; application: string; level: string; text: string }[] = [];
  for (const line of log.split('\n')) {
    const match = LINE.exec(line);
    if (match) {
      const application = match[2] === NO_APPLICATION ? '' : match[2] ?? '';
      messages.push({ pid: Number(match[1]), application, level: match[3] ?? '', text: match[4] ?? '' });
    } else if (line.startsWith('\t')) {
      const last = messages[messages.length - 1];
      if (last) last.text += `\n${line.slice(1)}`;
    }
  }
  const statements: LoggedStatement[] = [];
  const connections: LoggedConnection[] = [];
  for (const message of messages) {
    if (message.level !== 'LOG') continue;
    const simple = STATEMENT.exec(message.text);
    const extended = simple ? undefined : EXECUTE.exec(message.text);
    if (simple || extended) {
      statements.push({ pid: message.pid, application: message.application, protocol: simple ? 'simple' : 'extended', text: (simple ?? extended)?.[1] ?? '' });
    } else if (CONNECTION.test(message.text)) {
      // Logged before the backend applies the startup packet's settings, so the prefix has no name yet; the message has.
      connections.push({ pid: message.pid, application: CONNECTION_APPLICATION.exec(message.text)?.[1] ?? '' });
    }
  }
  return { statements, connections };
}

/** The kind of one statement: its start, with object names, quoted identifiers and numbers taken out. */
function singleKind(statement: string): string {
  const copy = /^COPY .* (FROM STDIN|TO STDOUT)\b/i.exec(statement);
  if (copy) return `COPY … ${copy[1]?.toUpperCase()}`;
  const named = /^(CREATE (?:UNIQUE )?INDEX(?: CONCURRENTLY)?|DROP INDEX(?: IF EXISTS)?|ALTER TABLE(?: ONLY)?|LOCK TABLE|TRUNCATE(?: TABLE)?|ALTER SEQUENCE) /i.exec(statement);
  if (named) return `${named[1]?.toUpperCase()} …`;
  const kind = statement.replace(/"(?:[^"]|"")*"/g, '"…"').replace(/\b\d+\b/g, 'N');
  return kind.length > 40 ? `${kind.slice(0, 39)}…` : kind;
}

/**
 * A short, stable name for what a logged message does, so a breakdown groups e.g. every `DROP INDEX …` together.
 * Several statements in one message (a batch) are named by their distinct kinds, in order, whatever their number:
 * every per-table batch of `SAVEPOINT; CREATE INDEX …; RELEASE SAVEPOINT` is then one kind.
 */
export function statementKind(text: string): string {
  // Literals and dollar-quoted bodies first, so a ';' inside them does not split the message.
  const flat = text
    .replace(/\$([A-Za-z_]\w*)?\$[\s\S]*?\$\1\$/g, '$…$')
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\s+/g, ' ')
    .trim();
  const statements = flat.split(';').map((part) => part.trim()).filter(Boolean);
  const kinds = [...new Set(statements.map(singleKind))];
  const kind = statements.length > 1 ? `[batch] ${kinds.join('; ')}` : kinds[0] ?? '';
  return kind.length > 90 ? `${kind.slice(0, 89)}…` : kind;
}

/** Statements, connections and kinds of one application_name (or of those `application` accepts) in an excerpt. */
export function trafficOf(excerpt: StatementLogExcerpt, application: string | ((name: string) => boolean)): ApplicationTraffic {
  const accepts = typeof application === 'string' ? (name: string) => name === application : application;
  const own = excerpt.statements.filter((s) => accepts(s.application));
  const kinds = new Map<string, number>();
  for (const statement of own) {
    const kind = statementKind(statement.text);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return {
    statements: own.length,
    connections: excerpt.connections.filter((c) => accepts(c.application)).length,
    kinds: [...kinds.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  };
}

/**
 * The excerpt with every statement named by its connection's application_name, as the client gave it at startup,
 * where the excerpt holds that connection's start: a connection that renamed itself for a while (an index build's
 * `SET LOCAL application_name`) is still counted under the name it connected with.
 */
export function byConnectionName(excerpt: StatementLogExcerpt): StatementLogExcerpt {
  const names = new Map(excerpt.connections.map((c) => [c.pid, c.application]));
  return { ...excerpt, statements: excerpt.statements.map((s) => ({ ...s, application: names.get(s.pid) ?? s.application })) };
}

/** Statement counts per application_name (the empty string: clients that set none, like the harness's own). */
export function statementsByApplication(excerpt: StatementLogExcerpt): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const statement of excerpt.statements) counts[statement.application] = (counts[statement.application] ?? 0) + 1;
  return counts;
}

/** Lines for a test diagnostic or a bench report: the total, then the `top` most frequent kinds. */
export function describeTraffic(label: string, traffic: ApplicationTraffic, top = 12): string[] {
  const shown = traffic.kinds.slice(0, top).map(([kind, count]) => `  ${String(count).padStart(4)}  ${kind}`);
  const others = traffic.kinds.slice(top).reduce((sum, [, count]) => sum + count, 0);
  return [
    `${label}: ${traffic.statements} statements on ${traffic.connections} connection(s)`,
    ...shown,
    ...(others ? [`  ${String(others).padStart(4)}  (${traffic.kinds.length - top} other kinds)`] : []),
  ];
}

/** A position in a cluster's server log: what is written after it is one step's traffic. */
export class StatementLogMark {
  private constructor(private readonly file: string, private readonly offset: number) {}

  static now(cluster: Cluster): StatementLogMark {
    return new StatementLogMark(cluster.logFile, statSync(cluster.logFile).size);
  }

  /** Everything logged since the mark, parsed. */
  read(): StatementLogExcerpt {
    const end = statSync(this.file).size;
    const buffer = Buffer.alloc(Math.max(0, end - this.offset));
    const fd = openSync(this.file, 'r');
    try {
      let read = 0;
      while (read < buffer.length) {
        const n = readSync(fd, buffer, read, buffer.length - read, this.offset + read);
        if (n === 0) break;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
    return parseStatementLog(buffer.toString('utf8'));
  }
}
