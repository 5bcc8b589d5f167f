import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startBuiltBackend } from '../test/helpers/built-backend';
import { killChild } from './child';

const REPO_ROOT = resolve(__dirname, '..');

export interface Backend {
  /** e.g. `http://127.18.40.3:41234`, without a trailing slash. */
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

const BENCH_ADMIN = { username: 'admin', password: 'bench-admin-password' };

/**
 * Starts the built backend (`dist/`, so run `nest build` first) with a fresh data directory, on a free port of a
 * loopback address of its own (as the tests start theirs), once `GET /api/health` answers 200. `extraEnv` adds or
 * overrides variables. Authentication is off unless `extraEnv.AUTH_ENABLED` is 'true' (then the admin is signed in):
 * the scenarios measure SSH, agents and streams, where a token check per request is noise; `rest` measures it.
 */
export async function startBackend(extraEnv: NodeJS.ProcessEnv = {}): Promise<Backend> {
  const dataDir = await mkdtemp(join(tmpdir(), 'infini-bench-'));
  const started = await startBuiltBackend(join(REPO_ROOT, 'dist'), {
    // A fresh SQLite database in the temp dir, whatever DATABASE_URL the shell exports.
    DATABASE_URL: '',
    DATA_DIR: dataDir,
    AUTH_ENABLED: 'false',
    ADMIN_USERNAME: BENCH_ADMIN.username,
    ADMIN_PASSWORD: BENCH_ADMIN.password,
    ...extraEnv,
  }).catch(async (error: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  // What it reports as an error (a crash mid-scenario, say) shows in the bench's output; its start-up warnings do not.
  started.child.stderr?.pipe(process.stderr);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= killChild(started.child).then(() => rm(dataDir, { recursive: true, force: true })));

  let authHeaders: Record<string, string> = {};
  try {
    if (extraEnv.AUTH_ENABLED === 'true') authHeaders = { authorization: `Bearer ${await signIn(started.url)}` };
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl: started.url, pid: started.child.pid!, dataDir, authHeaders, stop };
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
