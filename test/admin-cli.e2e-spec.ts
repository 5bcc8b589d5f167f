import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import Database from 'better-sqlite3';
import { CredentialVault } from '../src/common/credential-vault.service';
import { BackendProcess, buildBackend, startBuiltBackend } from './helpers/built-backend';
import { createLegacyDatabase, LegacyFixture, PNG_BYTES } from './helpers/legacy-database';
import { sshdAvailable, startSshd, TestSshd } from './helpers/sshd';
import { resetPostgres } from './helpers/test-app';
import { eventually } from './helpers/wait';

const REPO_ROOT = resolve(__dirname, '..');
const ADMIN = { username: 'admin', password: 'admin-cli-test-password' };
const UUID_UPLOAD = /^\/api\/uploads\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.png$/;
const TABLES = ['brands', 'accelerator_cards', 'models', 'servers', 'services', 'service_servers', 'chat_history', 'tasks'];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Answer<T> {
  status: number;
  body: T;
}

/**
 * The admin command line as operators run it: the built `cli.js` as a process of its own, on the DATA_DIR (and, in
 * CI's PostgreSQL pass, the DATABASE_URL) of a built backend that is running beside it.
 */
describe('the admin command line (node dist/cli.js)', () => {
  let buildDir: string;
  const scratch: string[] = [];
  let backend: BackendProcess | undefined;

  beforeAll(async () => {
    buildDir = await buildBackend();
  }, 120_000);

  afterAll(async () => {
    await stopBackend();
    for (const dir of [buildDir, ...scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    scratch.push(dir);
    return dir;
  }

  /** An empty DATA_DIR (and, on PostgreSQL, an empty schema). */
  async function freshDataDir(): Promise<string> {
    if (process.env.DATABASE_URL) await resetPostgres(process.env.DATABASE_URL);
    return tempDir('infini-admin-');
  }

  function cli(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const child = spawn(process.execPath, [join(buildDir, 'cli.js'), ...args], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        // The build lives outside the repository: its imports resolve from the repository's node_modules.
        NODE_PATH: join(REPO_ROOT, 'node_modules'),
        DATA_DIR: dataDir,
        DATABASE_URL: process.env.DATABASE_URL ?? '',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async function startBackend(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<BackendProcess> {
    backend = await startBuiltBackend(buildDir, {
      DATA_DIR: dataDir,
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      AUTH_ENABLED: 'true',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      SCHEDULER_ENABLED: 'false',
      SERVICE_SYNC_INTERVAL_MS: '0',
      METRICS_INTERVAL_SECONDS: '0',
      ...env,
    });
    return backend;
  }

  async function stopBackend(): Promise<void> {
    backend?.child.kill('SIGTERM');
    await backend?.exited;
    backend = undefined;
  }

  async function call<T = Record<string, unknown>>(method: string, path: string, token?: string, body?: unknown): Promise<Answer<T>> {
    const response = await fetch(`${backend!.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  function signIn(username: string, password: string) {
    return call<{ access_token: string; user: { role: string } }>('POST', '/api/auth/login', undefined, { username, password });
  }

  async function tokenOf(username: string, password: string): Promise<string> {
    const answer = await signIn(username, password);
    expect(answer.status).toBe(200);
    return answer.body.access_token;
  }

  /** The password a command printed in its box. */
  function printedPassword(result: CliResult): string {
    expect(result).toMatchObject({ code: 0, stderr: '' });
    return /│ password: (\S+)\s+│/.exec(result.stdout)![1];
  }

  describe('user commands, with the backend running', () => {
    let dataDir: string;
    let adminToken: string;

    beforeAll(async () => {
      dataDir = await freshDataDir();
      await startBackend(dataDir);
      adminToken = await tokenOf(ADMIN.username, ADMIN.password);
    }, 60_000);

    afterAll(() => stopBackend());

    it('create-user prints a generated password once, which signs in with the role given (viewer by default)', async () => {
      const operator = await cli(dataDir, ['create-user', 'carol', '--role', 'operator']);
      expect(operator.stdout).toContain('Created the operator "carol"');
      expect((await signIn('carol', printedPassword(operator))).body.user.role).toBe('operator');

      const viewer = await cli(dataDir, ['create-user', 'dave']);
      expect((await signIn('dave', printedPassword(viewer))).body.user.role).toBe('viewer');

      const taken = await cli(dataDir, ['create-user', 'Carol']);
      expect(taken).toEqual({ code: 1, stdout: '', stderr: 'The username "Carol" is taken\n' });
    });

    it('list-users shows every user with id, role, state and creation time', async () => {
      const users = await call<{ id: number; username: string }[]>('GET', '/api/users', adminToken);
      const dave = users.body.find((user) => user.username === 'dave')!;
      expect((await call('PUT', `/api/users/${dave.id}`, adminToken, { disabled: true })).status).toBe(200);

      const result = await cli(dataDir, ['list-users']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const [header, ...rows] = result.stdout.trimEnd().split('\n');
      expect(header.split(/\s+/)).toEqual(['ID', 'USERNAME', 'ROLE', 'STATE', 'CREATED']);
      expect(rows.map((row) => row.split(/\s{2,}/))).toEqual([
        ['1', 'admin', 'admin', 'enabled', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)],
        [expect.any(String), 'carol', 'operator', 'enabled', expect.any(String)],
        [String(dave.id), 'dave', 'viewer', 'disabled', expect.any(String)],
      ]);
    });

    it('reset-password: the new password signs in, the old one does not, and the running backend ends the sessions', async () => {
      const oldPassword = printedPassword(await cli(dataDir, ['create-user', 'erin', '--role', 'admin']));
      const session = await tokenOf('erin', oldPassword);
      expect((await call('GET', '/api/auth/me', session)).status).toBe(200);

      const reset = await cli(dataDir, ['reset-password', 'ERIN']);
      expect(reset.stdout).toContain('Reset the password of "erin" and ended their sessions');
      const newPassword = printedPassword(reset);
      expect(newPassword).not.toBe(oldPassword);

      expect((await signIn('erin', oldPassword)).status).toBe(401);
      const fresh = await tokenOf('erin', newPassword);
      expect((await call('GET', '/api/auth/me', fresh)).status).toBe(200);
      // The running backend keeps each user's row for READ_CACHE_TTL_MS (1 s by default): no later than that, the
      // changed password_changed_at ends every session opened before it.
      await eventually(
        async () => (await call('GET', '/api/auth/me', session)).status,
        (status) => status === 401,
        'the old session to be refused',
      );
    });

    it('answers bad usage with the usage text on stderr and exit code 2, and failures with one line and exit code 1', async () => {
      for (const args of [
        [],
        ['frobnicate'],
        ['reset-password'],
        ['create-user', 'x', '--role', 'root'],
        ['list-users', 'extra'],
        ['import-legacy', 'a.db', '--wat'],
      ]) {
        const result = await cli(dataDir, args);
        expect(result).toMatchObject({ code: 2, stdout: '' });
        expect(result.stderr).toContain('Usage: npm run admin -- <command> [options]');
      }
      expect((await cli(dataDir, ['reset-password'])).stderr).toMatch(/^Missing argument <username>\n/);

      expect(await cli(dataDir, ['reset-password', 'nobody'])).toEqual({ code: 1, stdout: '', stderr: 'No user named "nobody"\n' });
      expect(await cli(dataDir, ['list-users'], { PORT: 'abc' })).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Invalid configuration: PORT="abc": PORT must be an integer number\n',
      });
      const help = await cli(dataDir, ['help']);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toContain('import-legacy <infini.db>');
    });
  });

  describe('import-legacy', () => {
    let sshd: TestSshd | undefined;
    let legacy: LegacyFixture;
    let legacyPassword: string;
    let dataDir: string;
    let token: string;
    let firstRun: CliResult;
    let countsAfterFirstRun: Record<string, number>;

    beforeAll(async () => {
      sshd = sshdAvailable ? await startSshd() : undefined;
      const account = sshd ?? { host: '127.0.0.1', port: 22, username: 'infinitest', password: 'legacy-plain-password' };
      legacyPassword = account.password;
      legacy = createLegacyDatabase(tempDir('infini-legacy-'), account);
      dataDir = await freshDataDir();
      // Lists straight from the database, so that every check below sees what the import wrote at once.
      await startBackend(dataDir, { READ_CACHE_TTL_MS: '0' });
      token = await tokenOf(ADMIN.username, ADMIN.password);
      // A brand of this backend takes id 1, the old NVIDIA brand's.
      expect((await call('POST', '/api/brands', token, { name: 'Local brand' })).body).toMatchObject({ id: 1 });
    }, 60_000);

    afterAll(async () => {
      await stopBackend();
      await sshd?.stop();
    });

    const importArgs = () => ['import-legacy', legacy.database, '--uploads', legacy.uploads];

    /** Rows per table, straight from the database. */
    async function counts(): Promise<Record<string, number>> {
      const [row] = await queryDatabase<Record<string, number | string>>(
        `SELECT ${TABLES.map((table) => `(SELECT COUNT(*) FROM ${table}) AS ${table}`).join(', ')}`,
      );
      return Object.fromEntries(Object.entries(row).map(([table, count]) => [table, Number(count)]));
    }

    function uploadedFiles(): string[] {
      try {
        return readdirSync(join(dataDir, 'uploads')).sort();
      } catch {
        return [];
      }
    }

    async function queryDatabase<T>(sql: string): Promise<T[]> {
      if (process.env.DATABASE_URL) {
        const client = new Client({ connectionString: process.env.DATABASE_URL });
        await client.connect();
        try {
          return (await client.query(sql)).rows as T[];
        } finally {
          await client.end();
        }
      }
      const db = new Database(join(dataDir, 'infini.db'), { readonly: true });
      try {
        return db.prepare(sql).all() as T[];
      } finally {
        db.close();
      }
    }

    it('changes nothing in a dry run, and says what an import would do', async () => {
      const before = await counts();
      const result = await cli(dataDir, [...importArgs(), '--dry-run']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^Dry run: nothing was changed/);
      expect(result.stdout).toContain('brands: would import 3, already present 0, skipped 0');
      expect(result.stdout).toContain('servers: would import 3, already present 0, skipped 1');
      expect(await counts()).toEqual(before);
      expect(uploadedFiles()).toEqual([]);
      expect((await call<{ name: string }[]>('GET', '/api/brands', token)).body.map((brand) => brand.name)).toEqual(['Local brand']);
    });

    it('imports the old database and sums up what it imported, changed and skipped, and why', async () => {
      firstRun = await cli(dataDir, importArgs());
      expect(firstRun).toMatchObject({ code: 0, stderr: '' });
      countsAfterFirstRun = await counts();
      const lines = firstRun.stdout.split('\n');
      expect(lines[0]).toBe('Import finished:');
      expect(lines).toEqual(
        expect.arrayContaining([
          'brands: imported 3, already present 0, skipped 0',
          '  new ids (the old ones were taken): #1 → 4',
          'accelerator_cards: imported 2, already present 0, skipped 1',
          '  skipped #3: dangling brand_id 99',
          'servers: imported 3, already present 0, skipped 1',
          '  skipped #3: host_ip "http://127.0.0.3; rm -rf /" is not a host name or address',
          '  changed #1: status "pending" became "offline"',
          '  changed #2: empty password: imported without one, set it before connecting',
          '  changed #4: dangling brand_id 42: cleared',
          'services: imported 2, already present 0, skipped 2',
          '  skipped #2: malformed server_ids "1,2"',
          '  skipped #3: dangling model_id 77',
          '  changed #4: server_ids 999 were not imported: left out',
          'chat_history: imported 2, already present 0, skipped 3',
          '  skipped #3: service_id 2 was not imported',
          '  skipped #4: dangling service_id 50',
          '  skipped #5: unknown role "robot"',
          'tasks: imported 2, already present 0, skipped 2',
          '  skipped #3: dangling server_id 123',
          '  skipped #4: unknown schedule_type "hourly"',
          'logo files copied: 2',
        ]),
      );
      expect(lines.find((line) => line.includes('deleted-long-ago.png'))).toMatch(/changed #3: logo deleted-long-ago.png left out: not found in /);
    });

    it('keeps the old ids where they are free and gives taken ones new ids, which the references follow', async () => {
      const brands = (await call<{ id: number; name: string }[]>('GET', '/api/brands', token)).body;
      expect(brands.map(({ id, name }) => ({ id, name }))).toEqual([
        { id: 1, name: 'Local brand' },
        { id: 4, name: 'NVIDIA' },
        { id: 2, name: 'Huawei Ascend' },
        { id: 3, name: 'Cambricon' },
      ]);
      expect((await call<{ name: string; memory: string }[]>('GET', '/api/brands/4/accelerators', token)).body).toEqual([
        expect.objectContaining({ name: 'H100', model: 'H100 SXM5', memory: '80GB', fp16_perf: '989 TFLOPS' }),
      ]);
      expect((await call<unknown[]>('GET', '/api/brands/1/accelerators', token)).body).toEqual([]);

      const servers = (await call<Record<string, unknown>[]>('GET', '/api/servers', token)).body;
      const byName = new Map(servers.map((server) => [server.name, server]));
      expect([...byName.keys()].sort()).toEqual(['gpu-node-1', 'gpu-node-2', 'gpu-node-4']);
      expect(byName.get('gpu-node-1')).toMatchObject({ id: 1, brand_id: 4, brand_name: 'NVIDIA', model_name: 'H100', status: 'offline' });
      expect(byName.get('gpu-node-2')).toMatchObject({ brand_name: 'Huawei Ascend', status: 'online', last_check: expect.any(String) });
      expect(byName.get('gpu-node-4')).toMatchObject({ id: 4, brand_id: null, port: 22, status: 'offline' });
      for (const server of servers) expect(server).not.toHaveProperty('password');

      const services = (await call<Record<string, unknown>[]>('GET', '/api/services', token)).body;
      expect(services.map(({ id, name, model_name, server_ids, deploy_status }) => ({ id, name, model_name, server_ids, deploy_status }))).toEqual(
        expect.arrayContaining([
          { id: 1, name: 'Qwen chat', model_name: 'Qwen2-7B-Instruct', server_ids: [1, 2], deploy_status: 'deployed' },
          { id: 4, name: 'jiuge demo', model_name: 'jiuge', server_ids: [4], deploy_status: 'offline' },
        ]),
      );
      expect((await call<unknown[]>('GET', '/api/services/1/deploy-log', token)).body).toEqual([
        expect.objectContaining({ server_id: 1, success: true, output: 'deployed, pid 4242' }),
        expect.objectContaining({ server_id: 2, success: false, error: 'Connection refused' }),
      ]);
      expect((await call<{ role: string; content: string }[]>('GET', '/api/services/1/chat', token)).body).toEqual([
        expect.objectContaining({ role: 'user', content: 'Hello, who are you?', created_at: '2025-05-01T12:00:00.000Z' }),
        expect.objectContaining({ role: 'assistant', content: 'I am Qwen.', created_at: '2025-05-01T12:00:03.000Z' }),
      ]);
    });

    it('copies the uploaded logos into our uploads and serves them at their new URLs', async () => {
      const brands = (await call<{ name: string; logo: string | null }[]>('GET', '/api/brands', token)).body;
      const logoOf = (name: string) => brands.find((brand) => brand.name === name)!.logo;
      expect(logoOf('NVIDIA')).toMatch(UUID_UPLOAD);
      expect(logoOf('NVIDIA')).not.toContain(legacy.logos.nvidia);
      expect(logoOf('Huawei Ascend')).toBe('https://logos.example/ascend.svg');
      expect(logoOf('Cambricon')).toBeNull();
      const models = (await call<{ name: string; logo: string | null }[]>('GET', '/api/models', token)).body;
      const qwenLogo = models.find((model) => model.name === 'Qwen2-7B-Instruct')!.logo!;
      expect(qwenLogo).toMatch(UUID_UPLOAD);

      for (const url of [logoOf('NVIDIA')!, qwenLogo]) {
        const image = await fetch(`${backend!.url}${url}`, { headers: { authorization: `Bearer ${token}` } });
        expect(image.status).toBe(200);
        expect(image.headers.get('content-type')).toBe('image/png');
        expect(Buffer.from(await image.arrayBuffer())).toEqual(PNG_BYTES);
      }
    });

    it('stores the old plain-text server passwords encrypted with the vault, and without one where it was empty', async () => {
      const stored = await queryDatabase<{ id: number; password: string | null }>('SELECT id, password FROM servers ORDER BY id');
      expect(stored.map((server) => server.password === null)).toEqual([false, true, false]);
      const vault = new CredentialVault({ encryptionKey: undefined, keyFile: join(dataDir, 'encryption.key') });
      expect(stored[0].password).toMatch(/^v1:/);
      expect(vault.decrypt(stored[0].password!)).toBe(legacyPassword);
      expect(vault.decrypt(stored[2].password!)).toBe('secret-4');
      if (!process.env.DATABASE_URL) {
        const files = readdirSync(dataDir).filter((name) => name.startsWith('infini.db'));
        for (const file of files) expect(readFileSync(join(dataDir, file)).includes(legacyPassword)).toBe(false);
      }
    });

    (sshdAvailable ? it : it.skip)('runs an imported task over SSH with the imported password (the backend decrypts it)', async () => {
      const tasks = (await call<{ id: number; name: string }[]>('GET', '/api/tasks', token)).body;
      const hello = tasks.find((task) => task.name === 'say hello')!;
      expect((await call('POST', `/api/tasks/${hello.id}/execute`, token)).body).toMatchObject({ success: true, output: 'imported-task-ran\n' });
    });

    it('imports the tasks disabled, so nothing of the old backend starts running', async () => {
      const tasks = (await call<Record<string, unknown>[]>('GET', '/api/tasks', token)).body;
      expect(tasks.map(({ name, server_id, schedule_type, enabled, next_run }) => ({ name, server_id, schedule_type, enabled, next_run }))).toEqual(
        expect.arrayContaining([
          { name: 'say hello', server_id: 1, schedule_type: 'daily', enabled: false, next_run: null },
          { name: 'clean tmp', server_id: 2, schedule_type: 'once', enabled: false, next_run: null },
        ]),
      );
      expect(tasks).toHaveLength(2);
    });

    it('imports nothing twice: a second run finds every row already present', async () => {
      const files = uploadedFiles();
      const second = await cli(dataDir, importArgs());
      expect(second).toMatchObject({ code: 0, stderr: '' });
      for (const table of ['brands', 'models', 'accelerator_cards', 'servers', 'services', 'chat_history', 'tasks']) {
        expect(second.stdout).toMatch(new RegExp(`^${table}: imported 0, already present \\d+, skipped \\d+$`, 'm'));
      }
      expect(second.stdout).toContain('brands: imported 0, already present 3, skipped 0');
      expect(second.stdout).toContain('logo files copied: 0');
      expect(await counts()).toEqual(countsAfterFirstRun);
      expect(uploadedFiles()).toEqual(files);
    });

    it('leaves the backend handing out ids after the imported ones', async () => {
      // PostgreSQL's sequences do not follow ids inserted explicitly: the import moves them on.
      const brand = await call<{ id: number }>('POST', '/api/brands', token, { name: 'After the import' });
      expect(brand.status).toBe(201);
      expect(brand.body.id).toBeGreaterThan(4);
      const server = await call<{ id: number }>('POST', '/api/servers', token, { name: 'new', host_ip: '127.0.0.9', username: 'root' });
      expect(server.status).toBe(201);
      expect(server.body.id).toBeGreaterThan(4);
    });

    it('refuses, with one line and exit code 1, a missing file, a file that is no database, and our own database', async () => {
      const notADatabase = join(tempDir('infini-not-db-'), 'notes.db');
      writeFileSync(notADatabase, 'these are not the droids you are looking for\n'.repeat(100));
      const refusals = [
        { path: join(tmpdir(), 'no-such-dir', 'infini.db'), message: /^Cannot open .*no-such-dir\/infini\.db: .*the directory does not exist\n$/ },
        { path: notADatabase, message: /^Cannot read .*notes\.db: .*file is not a database\n$/ },
      ];
      if (!process.env.DATABASE_URL) {
        refusals.push({ path: join(dataDir, 'infini.db'), message: /is a database of this backend, not of the old Flask backend\n$/ });
      }
      for (const { path, message } of refusals) {
        const result = await cli(dataDir, ['import-legacy', path]);
        expect(result).toMatchObject({ code: 1, stdout: '' });
        expect(result.stderr).toMatch(message);
      }
      expect(await counts()).toEqual({ ...countsAfterFirstRun, brands: countsAfterFirstRun.brands + 1, servers: countsAfterFirstRun.servers + 1 });
    });
  });

  describe('import-legacy --enable-tasks', () => {
    it('enables the imported tasks and plans their next run', async () => {
      const legacy = createLegacyDatabase(tempDir('infini-legacy-'), { host: '127.0.0.1', port: 22, username: 'root', password: 'pw' });
      const dataDir = await freshDataDir();
      const result = await cli(dataDir, ['import-legacy', legacy.database, '--enable-tasks']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain('tasks enabled (--enable-tasks: the scheduler runs them): 2');
      // Without --uploads, uploaded logos cannot come along.
      expect(result.stdout).toContain(`logo ${legacy.logos.nvidia} left out: no --uploads folder given`);

      await startBackend(dataDir);
      try {
        const token = await tokenOf(ADMIN.username, ADMIN.password);
        const tasks = (await call<{ name: string; enabled: boolean; next_run: string | null }[]>('GET', '/api/tasks', token)).body;
        const daily = tasks.find((task) => task.name === 'say hello')!;
        expect(daily.enabled).toBe(true);
        expect(new Date(daily.next_run!).getTime()).toBeGreaterThan(Date.now());
        expect(tasks.find((task) => task.name === 'clean tmp')).toMatchObject({ enabled: true, next_run: expect.any(String) });
      } finally {
        await stopBackend();
      }
    }, 60_000);
  });
});
