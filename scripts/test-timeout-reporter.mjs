// Names the test that was running when a test file hit the runner's timeout. Node 20's runner applies
// --test-timeout to each file as a whole and reports only the file; this reporter follows each file's tests as
// they start and end, so the line it writes says which test never ended.

/** Per file, the tests started (or dequeued) and not yet ended, outermost first. */
const open = new Map();

function key(data) {
  return `${data.nesting}\u0000${data.name}`;
}

export default async function* timeoutReporter(source) {
  for await (const event of source) {
    const data = event.data ?? {};
    const file = data.file;
    if (!file) continue;
    const isFile = data.name === file;
    if (!isFile && (event.type === 'test:dequeue' || event.type === 'test:start')) {
      const running = open.get(file) ?? [];
      if (!running.some((t) => key(t) === key(data))) running.push({ nesting: data.nesting, name: data.name });
      open.set(file, running);
    } else if (!isFile && (event.type === 'test:pass' || event.type === 'test:fail')) {
      open.set(file, (open.get(file) ?? []).filter((t) => key(t) !== key(data)));
    } else if (isFile && event.type === 'test:fail' && data.details?.error?.failureType === 'testTimeoutFailure') {
      const running = (open.get(file) ?? []).map((t) => t.name).join(' › ') || '(no test had started: a before hook?)';
      yield `\ntest file timed out: ${file}\n  ${String(data.details.error.cause ?? data.details.error.message)}, while running: ${running}\n`;
    }
  }
}
