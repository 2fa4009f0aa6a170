// Deterministic pseudo-random numbers for tests that draw their cases, so every failure can be replayed from its seed.

/** mulberry32: numbers in [0, 1), small, fast, and the same sequence for the same seed on every machine. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A randomized test's seed and length: the file's defaults, or ARCHON_SYNC_RANDOM_SEED / _STEPS for another or a longer run. */
export function randomRun(defaults: { seed: number; steps: number }): { seed: number; steps: number } {
  return { seed: Number(process.env.ARCHON_SYNC_RANDOM_SEED ?? defaults.seed), steps: Number(process.env.ARCHON_SYNC_RANDOM_STEPS ?? defaults.steps) };
}

/** One of `items`, drawn with `random`. */
export function pickWith<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

/** Draws one of `actions` by weight and returns it (the caller logs and runs it). */
export function drawWeighted<A>(random: () => number, actions: readonly (readonly [number, A])[]): A | undefined {
  const total = actions.reduce((sum, [weight]) => sum + weight, 0);
  let at = random() * total;
  for (const [weight, action] of actions) {
    at -= weight;
    if (at < 0) return action;
  }
  return undefined;
}
