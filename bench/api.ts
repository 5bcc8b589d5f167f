import { readFile } from 'node:fs/promises';
import type { TestSshd } from '../test/helpers/sshd';

/** Sends a request (a JSON body if given) and returns the parsed JSON answer; any other status than `expected` throws. */
export async function requestJson<T>(url: string, method: string, expected: number, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Registers a server that logs in to `sshd` with its own private key; returns its id. Not the password:
 * every startSshd() in any process resets the shared test user's password, which would break a bench
 * running next to a test suite.
 */
export async function createSshServer(baseUrl: string, sshd: TestSshd, name: string): Promise<number> {
  const { id } = await requestJson<{ id: number }>(`${baseUrl}/api/servers`, 'POST', 201, {
    name,
    host_ip: sshd.host,
    port: sshd.port,
    username: sshd.username,
    auth_type: 'key',
    private_key: sshd.privateKey,
  });
  return id;
}

/** Runs `fn` and returns how long it took in milliseconds, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Nearest-rank percentile (`p` in 0–100) of a non-empty sample. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const median = (values: number[]): number => percentile(values, 50);

export interface Memory {
  rssMb: number;
  /** Peak RSS (VmHWM) since the last reset. */
  peakMb: number;
}

/** A process's resident memory, from /proc/<pid>/status. */
export async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const megabytes = (field: string): number => {
    const kb = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status)?.[1];
    if (kb === undefined) throw new Error(`No ${field} in /proc/${pid}/status`);
    return Number(kb) / 1024;
  };
  return { rssMb: megabytes('VmRSS'), peakMb: megabytes('VmHWM') };
}

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat, 100 per second on Linux. */
export const MS_PER_CLOCK_TICK = 10;

/** User plus system CPU time the process has used so far. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may hold spaces); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_CLOCK_TICK;
}
