// The confirmation prompt: the person must type "yes" before anything is overwritten.

import { createInterface } from 'node:readline/promises';

/**
 * Resolves true only for "yes". End of input (Ctrl-D) and an abort (Ctrl-C while asking) are a no: the run then
 * ends as cancelled, never as a failure.
 */
export async function askToConfirm(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal?: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: true });
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([rl.question(question, signal ? { signal } : {}), closed]);
    return answer.trim().toLowerCase() === 'yes';
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
