import autocannon from 'autocannon';

export interface LoadSettings {
  connections: number;
  durationSec: number;
  /** A discarded run first, so JIT and connection setup do not count. */
  warmupSec: number;
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
}

/** Defaults (16 connections, 5 s + 1 s warm-up), with `BENCH_CONNECTIONS` and `BENCH_DURATION` (seconds) overrides. */
export function loadSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LoadSettings {
  return {
    connections: positiveInt(env, 'BENCH_CONNECTIONS', 16),
    durationSec: positiveInt(env, 'BENCH_DURATION', 5),
    warmupSec: 1,
  };
}

/** `env[name]` as a positive integer, `fallback` when unset or blank; anything else is a UsageError. */
export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

/** A mistake in how the bench was invoked, as opposed to a failure while running it. */
export class UsageError extends Error {}

/** Loads `url` with GET requests from `settings.connections` keep-alive connections. */
export async function measureGet(url: string, settings: LoadSettings, headers: Record<string, string> = {}): Promise<LoadResult> {
  const options = { url, method: 'GET' as const, connections: settings.connections, headers };
  await autocannon({ ...options, duration: settings.warmupSec });
  const result = await autocannon({ ...options, duration: settings.durationSec });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
