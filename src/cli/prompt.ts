// The confirmation prompt: the person must type "yes" before anything is overwritten.

import { createInterface } from 'node:readline/promises';

/**
 * Resolves true only for "yes". End of input (Ctrl-D) and an abort (Ctrl-C while asking) are a no: the run then
 * ends as cancelled, never as a failure.
 */
export async function askToConfirm(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal?: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: true });
  let answered = false;
  const closed = new Promise<string>((resolve) => rl.once('close', () => {
    // Ended without an answer (Ctrl-D): what follows starts on a line of its own.
    if (!answered) output.write('\n');
    resolve('');
  }));
  try {
    const answer = await Promise.race([rl.question(question, signal ? { signal } : {}).then((text) => { answered = true; return text; }), closed]);
    return answer.trim().toLowerCase() === 'yes';
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
