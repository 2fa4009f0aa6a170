// SIGINT/SIGTERM → abort the run (it rolls back); a second signal, or a cancel that does not finish, exits at once.
// SIGPIPE is left alone: Node ignores it, and a closed stdout surfaces as EPIPE, which main.ts tolerates.

import { EXIT } from './exit-codes.js';

// After the first signal the engine cancels on the servers and lets go of a side that does not answer within a
// few seconds; this is the backstop for anything that still waits, so a cron job never hangs on a signal.
const CANCEL_DEADLINE_MS = 15_000;

export function abortOnSignals(controller: AbortController, onFirst: (signal: NodeJS.Signals) => void): () => void {
  let received = 0;
  let deadline: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      onFirst(signal);
      controller.abort(new Error(`received ${signal}`));
      deadline = setTimeout(() => process.exit(EXIT.cancelled), CANCEL_DEADLINE_MS);
      deadline.unref();
      return;
    }
    // The second signal: the person wants out now. The servers still roll back when our connections close.
    process.exit(EXIT.cancelled);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    clearTimeout(deadline);
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
