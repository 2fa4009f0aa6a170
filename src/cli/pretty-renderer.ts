// For people: the plan and summary on stdout, the two live lines on stderr (only when stderr is a terminal).

import cliProgress from 'cli-progress';
import { redact, type ProgressFields, type SyncEvent, type Wording } from '../index.js';
import { overallLine, stepLine } from './live-lines.js';
import { errorLine, furtherProblems, warningText, type Renderer } from './renderer.js';
import { undoneLine } from './undo-command.js';
import { historyTable, paint, planLines, summaryLines, verificationLines } from './tables.js';
import { cliWording } from './wording.js';

const fmt = new Intl.NumberFormat('en-US');

export interface PrettyOptions {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  color: boolean;
  quiet: boolean;
  debug: boolean;
  /** How advice names what the user can change; default the CLI's flags. */
  wording?: Wording | undefined;
  /**
   * For a sync: warnings that arrive before the plan is shown wait for it and print under it, where a person
   * reads them before answering (or, if the run fails first, before its error line).
   */
  holdWarningsForPlan?: boolean | undefined;
}

export function prettyRenderer(options: PrettyOptions): Renderer {
  const { out, err, color, quiet } = options;
  const wording = options.wording ?? cliWording();
  const live = err.isTTY === true && !quiet;
  let bars: cliProgress.MultiBar | undefined;
  // The bars draw from the latest fields at their own pace (10 per second), so a burst of events costs nothing.
  let latest: ProgressFields | undefined;
  let receivedAt = 0;
  let lastIndex: string | undefined;
  let held: string[] | undefined = options.holdWarningsForPlan ? [] : undefined;
  const print = (line: string) => { if (!quiet) out.write(`${line}\n`); };
  // Elapsed time ticks between events: during a long step with nothing new to say, the screen still moves.
  const elapsed = () => (latest ? latest.elapsedSeconds + (Date.now() - receivedAt) / 1000 : 0);

  const startBars = () => {
    bars = new cliProgress.MultiBar({
      stream: err,
      // Stopping clears the two lines; stopBars() draws their last state itself where it should stay.
      clearOnComplete: true,
      hideCursor: true,
      fps: 10,
      // A line logged above the bars overwrites them; cli-progress redraws only changed lines unless forced.
      forceRedraw: true,
      format: (_options, _params, payload: { line?: () => string }) => payload.line?.() ?? '',
    });
    bars.create(100, 0, { line: () => (latest ? overallLine(latest, elapsed(), color) : '') });
    bars.create(100, 0, { line: () => (latest ? stepLine(latest, color, lastIndex) : '') });
  };

  /** Stops the live lines; `keep` leaves their last state on screen (a summary, an error), else they vanish (a plan takes their place). */
  const stopBars = (keep = true) => {
    if (!bars) return;
    // One last draw flushes lines logged above the bars since the previous tick (stop() alone drops them).
    bars.update();
    bars.stop();
    bars = undefined;
    if (keep && latest) err.write(`${overallLine(latest, elapsed(), color)}\n${stepLine(latest, color, lastIndex)}\n`);
  };

  const warningLine = (text: string) => paint(color, 33, `warning: ${text}`);

  /** Warnings still waiting for a plan that will not come (the run failed, or ended without one). */
  const flushHeld = () => {
    for (const text of held ?? []) err.write(`${warningLine(text)}\n`);
    held = undefined;
  };

  const onWarning = (event: Extract<SyncEvent, { type: 'warning' }>) => {
    const text = warningText(event, wording);
    if (held) {
      held.push(text);
      return;
    }
    // Above the bars while they are drawn, or the next redraw would paint over it.
    if (bars) bars.log(`${warningLine(text)}\n`);
    else err.write(`${warningLine(text)}\n`);
  };

  return {
    plan(header, plan, dryRun) {
      // The plan replaces the live lines: the prompt, if any, comes right under it.
      stopBars(false);
      for (const line of planLines(header, plan, dryRun, color, wording)) print(line);
      for (const text of held ?? []) print(warningLine(text));
      held = undefined;
    },
    event(event) {
      if (event.type === 'warning') {
        onWarning(event);
        return;
      }
      if (event.type === 'plan' || event.type === 'trigger-mode') return;
      if (event.type === 'index') lastIndex = event.index;
      if (!live) {
        if (quiet) return;
        if (event.type === 'table-end') {
          const verb = event.phase === 'copy' ? 'copied' : 'compared';
          err.write(`${verb} ${event.table ?? ''}: ${fmt.format(event.tableRows)} rows in ${event.seconds.toFixed(1)} s\n`);
        }
        return;
      }
      latest = event;
      receivedAt = Date.now();
      if (!bars) startBars();
    },
    summary(result) {
      // Committed: the last frame says so, whatever the engine's last event was.
      if (bars && latest) {
        latest = { ...latest, phase: 'verification', table: undefined, build: undefined, percent: 100, etaSeconds: 0 };
      }
      stopBars();
      flushHeld();
      for (const line of summaryLines(result, color, wording)) print(line);
    },
    verification(header, result) {
      stopBars();
      for (const line of verificationLines(header, result, color)) print(line);
    },
    undone(result) {
      stopBars();
      print(paint(color, 32, undoneLine(result)));
      for (const t of result.tables) print(`  ${t.table}: ${t.restore === 'all' ? 'emptied and reloaded' : `${fmt.format(t.deleted)} rows of the run deleted`}, ${fmt.format(t.restored)} old rows put back`);
    },
    history(rows) {
      out.write(`${historyTable(rows, color)}\n`);
    },
    info(message) {
      if (quiet) return;
      // Above the bars while they are drawn (e.g. "received SIGINT: cancelling"), else on stdout as ever.
      if (bars) bars.log(`${redact(message)}\n`);
      else print(redact(message));
    },
    error(error) {
      stopBars();
      flushHeld();
      err.write(`${paint(color, 31, 'archon-sync:')} ${errorLine(error, wording)}\n`);
      // The one line above counts the others ("and 16 more problems"); here they are, one a line.
      for (const problem of furtherProblems(error, wording)) err.write(`  - ${problem}\n`);
      if (options.debug && error instanceof Error && error.cause) err.write(`  cause: ${redact(String((error.cause as Error).message ?? error.cause))}\n`);
    },
    close() {
      stopBars();
      flushHeld();
    },
  };
}
