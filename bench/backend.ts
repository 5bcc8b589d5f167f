import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killChild } from './child';

const REPO_ROOT = resolve(__dirname, '..');
const STARTUP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;

export interface Backend {
  /** e.g. `http://127.0.0.1:41234`, without a trailing slash. */
  baseUrl: string;
  /** The backend process's pid, e.g. to read its memory from /proc. */
  pid: number;
  /** Kills the process and removes its data directory; safe to call twice. */
  stop(): Promise<void>;
}

/** A port free right now: the OS picks one for a throwaway listener. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('Could not get a free port');
  return address.port;
}

/**
 * Starts the built backend (`dist/main.js`, so run `nest build` first) on a free port with a fresh
 * data directory, and resolves once `GET /api/health` answers 200. `extraEnv` adds or overrides variables.
 */
export async function startBackend(extraEnv: NodeJS.ProcessEnv = {}): Promise<Backend> {
  const dataDir = await mkdtemp(join(tmpdir(), 'infini-bench-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'main.js')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      // A fresh SQLite database in the temp dir, whatever DATABASE_URL the shell exports.
      DATABASE_URL: '',
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    // Warnings and a startup failure's message go straight to the terminal.
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= killChild(child).then(() => rm(dataDir, { recursive: true, force: true })));

  try {
    await waitForHealth(baseUrl, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, pid: child.pid!, stop };
}

async function waitForHealth(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Backend exited during startup (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const response = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(POLL_INTERVAL_MS * 10) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      lastProblem = `HTTP ${response.status}`;
    } catch (error) {
      // Connection refused until the server listens; keep polling.
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`Backend not healthy after ${STARTUP_TIMEOUT_MS / 1000} s at ${baseUrl}/api/health (${lastProblem})`);
}
