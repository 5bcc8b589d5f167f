import { setTimeout as delay } from 'node:timers/promises';

const POLL_MS = 20;

/**
 * Polls `probe` until `done` holds, for state that has no event to wait on, and returns the accepted value.
 * Bounded, so a state that never comes fails with what was last seen instead of a jest timeout.
 */
export async function eventually<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await delay(POLL_MS);
  }
}

/** `eventually` for a plain condition. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  await eventually(condition, (holds) => holds, what, timeoutMs);
}

/** Rejects after `ms` with `what`, so a missing event fails the test with a reason instead of a jest timeout. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `target[method]` (a periodic job: a scheduler poll, a socket re-check) has completed `count` more
 * calls, so "some runs later, still nothing happened" awaits the runs instead of sleeping through a guessed window.
 */
export function completedCalls<T extends object>(target: T, method: keyof T & string, count: number): Promise<void> {
  const methods = target as unknown as Record<string, () => Promise<unknown>>;
  const own = Object.prototype.hasOwnProperty.call(target, method);
  const original = methods[method];
  let completed = 0;
  return new Promise((resolve) => {
    methods[method] = async function (this: unknown) {
      try {
        return await original.call(this);
      } finally {
        if (++completed === count) {
          if (own) methods[method] = original;
          else delete methods[method];
          resolve();
        }
      }
    };
  });
}
