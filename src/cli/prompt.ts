// The confirmation prompt: the person must type "yes" before anything is overwritten.

import { createInterface } from 'node:readline/promises';

export async function confirmOverwrite(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: true });
  try {
    const answer = await rl.question(question);
    return answer.trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}
