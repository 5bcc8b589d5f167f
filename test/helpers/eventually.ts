import { setTimeout as delay } from 'node:timers/promises';

/** Polls `probe` until `done` holds; for state that has no event to wait on. Bounded. */
export async function eventually<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 5000, pollMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await delay(pollMs);
  }
}
