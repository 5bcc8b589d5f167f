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
  /** Its DATA_DIR (the SQLite file is `infini.db` there). */
  dataDir: string;
  /** `{authorization: 'Bearer …'}` of the first admin when started with AUTH_ENABLED=true, else `{}`. */
  authHeaders: Record<string, string>;
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

const BENCH_ADMIN = { username: 'admin', password: 'bench-admin-password' };

/**
 * Starts the built backend (`dist/main.js`, so run `nest build` first) on a free port with a fresh
 * data directory, and resolves once `GET /api/health` answers 200. `extraEnv` adds or overrides variables.
 * Authentication is off unless `extraEnv.AUTH_ENABLED` is 'true' (then the admin is signed in): the
 * scenarios measure SSH, agents and streams, where a token check per request is noise; `rest` measures it.
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
      AUTH_ENABLED: 'false',
      ADMIN_USERNAME: BENCH_ADMIN.username,
      ADMIN_PASSWORD: BENCH_ADMIN.password,
      ...extraEnv,
    },
    // Warnings and a startup failure's message go straight to the terminal.
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= killChild(child).then(() => rm(dataDir, { recursive: true, force: true })));

  let authHeaders: Record<string, string> = {};
  try {
    await waitForHealth(baseUrl, child);
    if (extraEnv.AUTH_ENABLED === 'true') authHeaders = { authorization: `Bearer ${await signIn(baseUrl)}` };
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, pid: child.pid!, dataDir, authHeaders, stop };
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

async function signIn(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BENCH_ADMIN),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token) throw new Error(`Bench sign-in answered ${response.status}`);
  return body.access_token;
}
