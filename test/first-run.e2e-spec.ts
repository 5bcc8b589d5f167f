import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BackendProcess, buildBackend, startBuiltBackend } from './helpers/built-backend';
import { until } from './helpers/wait';

/** The box of the start-up report that holds the generated admin password. */
const PASSWORD_IN_BOX = /^│\s+(\S{20,})\s+│$/m;

/**
 * What someone starting the backend for the first time sees and needs: the real process's own output, at the
 * default level and at LOG_LEVEL=error, and the settings it reads from `.env`. Always on SQLite, a new DATA_DIR each.
 */
describe('the first run of the built backend', () => {
  let buildDir: string;
  const dirs: string[] = [];
  const backends: BackendProcess[] = [];

  beforeAll(async () => {
    buildDir = await buildBackend();
  }, 60_000);

  afterEach(async () => {
    for (const backend of backends) backend.child.kill('SIGKILL');
    await Promise.all(backends.splice(0).map((backend) => backend.exited));
  });

  afterAll(() => {
    for (const dir of [buildDir, ...dirs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function newDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'infini-first-run-'));
    dirs.push(dir);
    return dir;
  }

  /** Starts the backend and resolves with what it printed once the start-up report is complete. */
  async function start(env: NodeJS.ProcessEnv, cwd?: string): Promise<{ backend: BackendProcess; stdout: string }> {
    const backend = await startBuiltBackend(buildDir, { DATABASE_URL: '', AUTH_ENABLED: 'true', ADMIN_PASSWORD: '', LOG_LEVEL: 'log', ...env }, cwd);
    backends.push(backend);
    // Health answers as soon as the port listens; the report is written right after.
    const expectsReport = env.LOG_LEVEL !== 'error';
    await until(() => (expectsReport ? /Admin UI/.test(backend.stdout()) : backend.stdout().includes('└')), 'the start-up report');
    return { backend, stdout: backend.stdout() };
  }

  async function signIn(backend: BackendProcess, username: string, password: string): Promise<number> {
    const response = await fetch(`${backend.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    return response.status;
  }

  it('prints a short report with the generated password in a box, once, and nothing of Nest’s start-up chatter', async () => {
    const dataDir = newDir();
    const first = await start({ DATA_DIR: dataDir });
    expect(first.stdout).not.toMatch(/Mapped \{|dependencies initialized|subscribed to the/);
    expect(first.stdout.trim().split('\n').length).toBeLessThan(20);
    const { origin } = new URL(first.backend.url);
    expect(first.stdout).toContain(`InfiniStudio backend listening on ${origin}`);
    expect(first.stdout).toContain(`API docs  ${origin}/api/docs`);
    expect(first.stdout).toContain(`Database  SQLite, ${join(dataDir, 'infini.db')}`);
    expect(first.stdout).toMatch(/Sign-in\s+on/);
    const password = PASSWORD_IN_BOX.exec(first.stdout)![1];
    expect(await signIn(first.backend, 'admin', password)).toBe(200);
    // The key that encrypts server secrets exists from the first start, so a backup taken now is complete.
    expect(existsSync(join(dataDir, 'encryption.key'))).toBe(true);

    first.backend.child.kill('SIGTERM');
    await first.backend.exited;
    const second = await start({ DATA_DIR: dataDir });
    expect(second.stdout).not.toMatch(PASSWORD_IN_BOX);
    expect(await signIn(second.backend, 'admin', password)).toBe(200);
  }, 60_000);

  it('shows the generated password at LOG_LEVEL=error too, and nothing else', async () => {
    const { backend, stdout } = await start({ DATA_DIR: newDir(), LOG_LEVEL: 'error' });
    expect(stdout).not.toContain('listening on');
    expect(await signIn(backend, 'admin', PASSWORD_IN_BOX.exec(stdout)![1])).toBe(200);
  }, 30_000);

  it('says sign-in is off when it is, and shows no password', async () => {
    const { stdout } = await start({ DATA_DIR: newDir(), AUTH_ENABLED: 'false' });
    expect(stdout).toMatch(/Sign-in\s+OFF \(AUTH_ENABLED=false\)/);
    expect(stdout).not.toMatch(PASSWORD_IN_BOX);
  }, 30_000);

  it('reads .env in its working directory, where variables already set win', async () => {
    const cwd = newDir();
    writeFileSync(join(cwd, '.env'), ['# as in .env.example', 'ADMIN_USERNAME=ops', 'ADMIN_PASSWORD=from-the-dotenv-file', 'PORT=1'].join('\n'));
    // startBuiltBackend sets PORT itself: were .env to win, the backend would try port 1 and never answer.
    const { backend, stdout } = await start({ DATA_DIR: join(cwd, 'data'), ADMIN_USERNAME: undefined, ADMIN_PASSWORD: undefined }, cwd);
    expect(stdout).toContain('created the admin user "ops" with the password in ADMIN_PASSWORD');
    expect(await signIn(backend, 'ops', 'from-the-dotenv-file')).toBe(200);
  }, 30_000);

  it('stops on a bad setting with one line that names it', async () => {
    const failure = await promisify(execFile)(process.execPath, [join(buildDir, 'main.js')], {
      env: { ...process.env, NODE_PATH: join(__dirname, '..', 'node_modules'), DATA_DIR: newDir(), PORT: 'abc' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1, stderr: 'Invalid configuration: PORT="abc": PORT must be an integer number\n' });
  }, 30_000);
});
