import { ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const REPO_ROOT = resolve(__dirname, '..', '..');
const STARTUP_TIMEOUT_MS = 20_000;

/** The backend as a real process of its own (see startBuiltBackend). */
export interface BackendProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  /** The process's stderr so far, for failure messages. */
  stderr(): string;
  /** The process's stdout so far: the start-up report. */
  stdout(): string;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Builds the backend into a new temporary directory, for suites that run it as real processes: the JavaScript
 * `nest build` emits, with `tsc --noCheck` and without the type check (CI runs it separately) and the OpenAPI plugin
 * (it only feeds /api/docs), which cost a type-checked build three times as long. Returns the directory.
 */
export async function buildBackend(): Promise<string> {
  const buildDir = mkdtempSync(join(tmpdir(), 'infini-build-'));
  await promisify(execFile)(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--noCheck', '--outDir', buildDir, '--sourceMap', 'false'],
    { cwd: REPO_ROOT },
  );
  return buildDir;
}

/**
 * A loopback address of its own for one backend. A port that freePort found free is free only until the backend
 * binds it: another run on this machine (CI runs SQLite's and PostgreSQL's side by side) may take it meanwhile, and
 * then the health check below would find that run's backend healthy and hand it over as this one.
 */
function randomLoopbackAddress(): string {
  const octet = () => 1 + Math.floor(Math.random() * 254);
  return `127.${octet()}.${octet()}.${octet()}`;
}

/**
 * Starts the build in `buildDir` on a free port of a loopback address of its own with `env` over this process's
 * environment (in `cwd`, by default the repository), and resolves once `/api/health` answers 200.
 */
export async function startBuiltBackend(buildDir: string, env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<BackendProcess> {
  const host = randomLoopbackAddress();
  const port = await freePort(host);
  const child = spawn(process.execPath, [join(buildDir, 'main.js')], {
    cwd,
    env: {
      ...process.env,
      // The build lives outside the repository: its imports resolve from the repository's node_modules.
      NODE_PATH: join(REPO_ROOT, 'node_modules'),
      HOST: host,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const backend: BackendProcess = {
    url: `http://${host}:${port}`,
    child,
    exited: once(child, 'exit'),
    stderr: () => stderr,
    stdout: () => stdout,
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`The backend exited during start-up (code ${child.exitCode}): ${stderr}`);
    const status = await fetch(`${backend.url}/api/health`, { signal: AbortSignal.timeout(1000) }).then(
      async (response) => (await response.arrayBuffer(), response.status),
      () => 0,
    );
    if (status === 200) return backend;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The backend was not healthy within ${STARTUP_TIMEOUT_MS} ms (last: ${status}): ${stderr}`);
    }
    await delay(50);
  }
}
