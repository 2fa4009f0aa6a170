// SIGINT/SIGTERM → abort the run (it rolls back); a second SIGINT exits at once. SIGPIPE is left alone:
// Node ignores it and a closed stdout surfaces as EPIPE on the next write, which the logger tolerates.

import { EXIT } from './exit-codes.js';

export function abortOnSignals(controller: AbortController, onFirst: (signal: NodeJS.Signals) => void): () => void {
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      onFirst(signal);
      controller.abort(new Error(`received ${signal}`));
      return;
    }
    // The second signal: the person wants out now. The server still rolls back when our connections close.
    process.exit(EXIT.cancelled);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
