import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { io } from 'socket.io-client';
import type { Response, Test } from 'supertest';
import { closedPort, describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TestApp } from './helpers/test-app';
import { eventually } from './helpers/wait';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_ID = 987654;

interface Task {
  id: number;
  name: string;
  command: string;
  command_set_by: string | null;
  server_id: number;
  server_name: string | null;
  schedule_type: string;
  cron_expression: string | null;
  timezone: string | null;
  run_at: string | null;
  enabled: boolean;
  next_run: string | null;
  timeout_seconds: number;
  status: string;
  last_run: string | null;
  result: { output: string; error: string; success: boolean; exit_status?: number | null; truncated?: boolean } | null;
  created_at: string;
}

interface Run {
  id: number;
  task_id: number;
  trigger: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  exit_status: number | null;
  output: string;
  error: string;
}

/** The fields the contract gives a task (`tasks` columns plus the joined `server_name`, and the scheduler's). */
const TASK_FIELDS = [
  'id',
  'name',
  'command',
  'command_set_by',
  'server_id',
  'server_name',
  'schedule_type',
  'cron_expression',
  'timezone',
  'run_at',
  'enabled',
  'next_run',
  'timeout_seconds',
  'status',
  'last_run',
  'result',
  'created_at',
] as const;

/** A task's contract fields only, so that tests of other behaviour do not hinge on extra keys. */
function contractView(task: Task): Task {
  return Object.fromEntries(TASK_FIELDS.map((field) => [field, task[field]])) as unknown as Task;
}

/** The home directory of a local user (sshd runs on this machine, so the remote home is this one). */
function homeOf(user: string): string {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith(`${user}:`));
  if (!entry) throw new Error(`no passwd entry for ${user}`);
  return entry.split(':')[5];
}

/** Pids of the test user's processes whose command line contains `pattern` (pgrep exits 1 when there are none). */
async function userProcesses(user: string, pattern: string): Promise<number[]> {
  try {
    const { stdout } = await promisify(execFile)('pgrep', ['-u', user, '-f', pattern]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch (error) {
    if ((error as { code?: number }).code === 1) return [];
    throw error;
  }
}

describeSsh('tasks against a real sshd', () => {
  let sshd: TestSshd;
  let home: string;
  let t: TestApp;
  /** Every response body the app sent in this file, for the secrets check. */
  const bodies: string[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
    home = homeOf(sshd.username);
  });
  afterAll(() => sshd?.stop());

  const record = (test: Test): Test => test.on('response', (res: Response) => bodies.push(res.text));
  const api = {
    get: (url: string) => record(t.http.get(url)),
    post: (url: string) => record(t.http.post(url)),
    put: (url: string) => record(t.http.put(url)),
    delete: (url: string) => record(t.http.delete(url)),
  };

  // ---- API helpers ----

  async function createServer(body: Record<string, unknown>): Promise<number> {
    const res = await api.post('/api/servers').send(body).expect(201);
    expect(res.body).toEqual({ id: expect.any(Number), message: 'Server created successfully' });
    return res.body.id;
  }

  /** A server that logs in to the test sshd with the test user's password. */
  function createSshdServer(name: string, overrides: Record<string, unknown> = {}): Promise<number> {
    return createServer({ name, host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password, ...overrides });
  }

  async function createTask(body: Record<string, unknown>): Promise<number> {
    const res = await api.post('/api/tasks').send(body).expect(201);
    expect(res.body).toEqual({ id: expect.any(Number), message: 'Task created successfully' });
    return res.body.id;
  }

  async function getTask(id: number): Promise<Task> {
    return (await api.get(`/api/tasks/${id}`).expect(200)).body;
  }

  async function listTasks(): Promise<Task[]> {
    return (await api.get('/api/tasks').expect(200)).body;
  }

  async function listRuns(id: number, query = ''): Promise<Run[]> {
    return (await api.get(`/api/tasks/${id}/runs${query}`).expect(200)).body;
  }

  function execute(id: number): Test {
    return api.post(`/api/tasks/${id}/execute`);
  }

  /** Creates a task with `command` on `serverId` and runs it once; returns the execute body. */
  async function runCommand(serverId: number, command: string): Promise<{ id: number; body: Record<string, unknown> }> {
    const id = await createTask({ name: `run ${command.slice(0, 40)}`, command, server_id: serverId, schedule_type: 'once' });
    const res = await execute(id).expect(200);
    return { id, body: res.body };
  }

  function expectIsoWithin(value: string | null, from: number, to: number): void {
    expect(value).toMatch(ISO_UTC);
    // SQLite's default timestamps have whole seconds; allow for that rounding.
    expect(Date.parse(value!)).toBeGreaterThanOrEqual(from - 1000);
    expect(Date.parse(value!)).toBeLessThanOrEqual(to + 1000);
  }

  describe('with the default timeout', () => {
    let serverId: number;
    let otherServerId: number;

    beforeAll(async () => {
      t = await startTestApp({ SCHEDULER_TIMEZONE: 'UTC' });
      serverId = await createSshdServer('gpu-a');
      otherServerId = await createSshdServer('gpu-b');
    });
    afterAll(() => t?.close());

    describe('CRUD', () => {
      it('creates a task (201) and reads it back pending, with its server name', async () => {
        const before = Date.now();
        const id = await createTask({ name: 'disk report', command: 'df -h /', server_id: serverId, schedule_type: 'daily' });
        const task = await getTask(id);
        expect(contractView(task)).toEqual({
          id,
          name: 'disk report',
          command: 'df -h /',
          command_set_by: 'admin',
          server_id: serverId,
          server_name: 'gpu-a',
          schedule_type: 'daily',
          cron_expression: null,
          timezone: null,
          run_at: null,
          enabled: true,
          next_run: expect.stringMatching(ISO_UTC),
          timeout_seconds: 3600,
          status: 'pending',
          last_run: null,
          result: null,
          created_at: expect.stringMatching(ISO_UTC),
        });
        expectIsoWithin(task.created_at, before, Date.now());
        // A daily task next runs at the coming midnight of the scheduler's zone (UTC here).
        const midnight = new Date(before);
        midnight.setUTCHours(24, 0, 0, 0);
        expect(task.next_run).toBe(midnight.toISOString());
      });

      it('lists tasks newest first, each with its server name', async () => {
        const older = await createTask({ name: 'older', command: 'uptime', server_id: serverId, schedule_type: 'once' });
        const newer = await createTask({ name: 'newer', command: 'uptime', server_id: otherServerId, schedule_type: 'weekly' });
        const tasks = await listTasks();
        const ids = tasks.map((task) => task.id);
        expect(ids.indexOf(newer)).toBeGreaterThanOrEqual(0);
        expect(ids.indexOf(newer)).toBeLessThan(ids.indexOf(older));
        expect(tasks.find((task) => task.id === older)).toMatchObject({ name: 'older', server_id: serverId, server_name: 'gpu-a' });
        expect(tasks.find((task) => task.id === newer)).toMatchObject({ name: 'newer', server_id: otherServerId, server_name: 'gpu-b' });
        // Newest first overall, not just for these two.
        const createdAt = tasks.map((task) => Date.parse(task.created_at));
        expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
      });

      it('PUT changes only the fields it is given', async () => {
        const id = await createTask({ name: 'partial', command: 'echo one', server_id: serverId, schedule_type: 'once' });
        const original = contractView(await getTask(id));

        const renamed = await api.put(`/api/tasks/${id}`).send({ name: 'partial renamed' }).expect(200);
        expect(renamed.body).toEqual({ message: 'Task updated successfully' });
        expect(contractView(await getTask(id))).toEqual({ ...original, name: 'partial renamed' });

        await api.put(`/api/tasks/${id}`).send({ command: 'echo two', schedule_type: 'weekly', server_id: otherServerId }).expect(200);
        expect(contractView(await getTask(id))).toEqual({
          ...original,
          name: 'partial renamed',
          command: 'echo two',
          schedule_type: 'weekly',
          // A new schedule is a new plan: next_run moves to the coming weekly slot.
          next_run: expect.stringMatching(ISO_UTC),
          server_id: otherServerId,
          server_name: 'gpu-b',
        });
      });

      it('returns exactly the contract fields from GET /api/tasks/:id and GET /api/tasks', async () => {
        const id = await createTask({ name: 'shape', command: 'true', server_id: serverId, schedule_type: 'once' });
        const task = await getTask(id);
        expect(Object.keys(task).sort()).toEqual([...TASK_FIELDS].sort());
        const listed = (await listTasks()).find((candidate) => candidate.id === id)!;
        expect(Object.keys(listed).sort()).toEqual([...TASK_FIELDS].sort());
      });

      it("accepts the admin UI's whole object with its read-only fields on PUT and POST, and ignores those fields", async () => {
        const id = await createTask({ name: 'ui edit', command: 'hostname', server_id: serverId, schedule_type: 'once' });
        const original = contractView(await getTask(id));
        const forged = {
          id: id + 1000,
          status: 'completed',
          last_run: '2001-02-03T04:05:06.000Z',
          result: { output: 'forged', error: '', success: true },
          created_at: '2000-01-01T00:00:00.000Z',
          server_name: 'not the server',
        };

        await api
          .put(`/api/tasks/${id}`)
          .send({ ...original, ...forged, name: 'ui edited' })
          .expect(200);
        expect(contractView(await getTask(id))).toEqual({ ...original, name: 'ui edited' });

        // The UI's "duplicate" sends the object it has, read-only fields included.
        const copy = await createTask({ ...original, ...forged, name: 'ui copy' });
        expect(copy).not.toBe(id);
        expect(await getTask(copy)).toMatchObject({
          id: copy,
          name: 'ui copy',
          command: 'hostname',
          server_id: serverId,
          server_name: 'gpu-a',
          status: 'pending',
          last_run: null,
          result: null,
        });
      });

      it('accepts back, unchanged, exactly the object its GET returned (the admin UI edits with {...task})', async () => {
        const id = await createTask({ name: 'round trip', command: 'uname -a', server_id: serverId, schedule_type: 'weekly' });
        const original = await getTask(id);
        const res = await api.put(`/api/tasks/${id}`).send(original);
        expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { message: 'Task updated successfully' } });
        expect(await getTask(id)).toEqual(original);
      });

      it('refuses an unknown field with a 400 that names it, on create and update', async () => {
        const count = (await listTasks()).length;
        const created = await api
          .post('/api/tasks')
          .send({ name: 'x', command: 'true', server_id: serverId, schedule_type: 'once', priority: 5 })
          .expect(400);
        expect(created.body.error).toContain('priority');
        expect(created.body.details).toEqual([expect.objectContaining({ field: 'priority' })]);
        expect(await listTasks()).toHaveLength(count);

        const id = await createTask({ name: 'y', command: 'true', server_id: serverId, schedule_type: 'once' });
        const before = await getTask(id);
        const updated = await api.put(`/api/tasks/${id}`).send({ name: 'z', cron: '* * * * *' }).expect(400);
        expect(updated.body.error).toContain('cron');
        expect(updated.body.details).toEqual([expect.objectContaining({ field: 'cron' })]);
        expect(await getTask(id)).toEqual(before);
      });

      it('refuses a schedule_type other than once, daily, weekly or cron', async () => {
        const count = (await listTasks()).length;
        const created = await api
          .post('/api/tasks')
          .send({ name: 'hourly', command: 'true', server_id: serverId, schedule_type: 'hourly' })
          .expect(400);
        expect(created.body.error).toContain('schedule_type');
        expect(created.body.details).toEqual([expect.objectContaining({ field: 'schedule_type' })]);
        expect(await listTasks()).toHaveLength(count);

        const id = await createTask({ name: 'sched', command: 'true', server_id: serverId, schedule_type: 'daily' });
        const updated = await api.put(`/api/tasks/${id}`).send({ schedule_type: 'monthly' }).expect(400);
        expect(updated.body.details).toEqual([expect.objectContaining({ field: 'schedule_type' })]);
        expect((await getTask(id)).schedule_type).toBe('daily');
      });

      it('refuses a server_id that names no server, and creates nothing', async () => {
        const count = (await listTasks()).length;
        const created = await api
          .post('/api/tasks')
          .send({ name: 'orphan', command: 'true', server_id: UNKNOWN_ID, schedule_type: 'once' })
          .expect(400);
        expect(created.body).toEqual({ statusCode: 400, error: expect.stringContaining(`server_id ${UNKNOWN_ID}`), request_id: expect.any(String) });
        const tasks = await listTasks();
        expect(tasks).toHaveLength(count);
        expect(tasks.map((task) => task.name)).not.toContain('orphan');

        const id = await createTask({ name: 'moves', command: 'true', server_id: serverId, schedule_type: 'once' });
        const moved = await api.put(`/api/tasks/${id}`).send({ server_id: UNKNOWN_ID }).expect(400);
        expect(moved.body.error).toContain(`server_id ${UNKNOWN_ID}`);
        expect((await getTask(id)).server_id).toBe(serverId);
      });

      it('refuses a task without a command, or with a blank one', async () => {
        const count = (await listTasks()).length;
        const missing = await api.post('/api/tasks').send({ name: 'no command', server_id: serverId, schedule_type: 'once' }).expect(400);
        expect(missing.body.error).toContain('command');
        expect(missing.body.details).toEqual([expect.objectContaining({ field: 'command' })]);
        const blank = await api
          .post('/api/tasks')
          .send({ name: 'blank command', command: '  \n ', server_id: serverId, schedule_type: 'once' })
          .expect(400);
        expect(blank.body.details).toEqual([expect.objectContaining({ field: 'command' })]);
        expect(await listTasks()).toHaveLength(count);
      });

      it('deletes a task: 200, then 404 for it', async () => {
        const id = await createTask({ name: 'short-lived', command: 'true', server_id: serverId, schedule_type: 'once' });
        const res = await api.delete(`/api/tasks/${id}`).expect(200);
        expect(res.body).toEqual({ message: 'Task deleted successfully' });
        expect((await api.get(`/api/tasks/${id}`).expect(404)).body).toEqual({
          statusCode: 404,
          error: expect.any(String),
          request_id: expect.any(String),
        });
        await api.delete(`/api/tasks/${id}`).expect(404);
        expect((await listTasks()).map((task) => task.id)).not.toContain(id);
      });

      it('answers 404 for an unknown id on every task route', async () => {
        const responses = await Promise.all([
          api.get(`/api/tasks/${UNKNOWN_ID}`),
          api.put(`/api/tasks/${UNKNOWN_ID}`).send({ name: 'x' }),
          api.delete(`/api/tasks/${UNKNOWN_ID}`),
          api.post(`/api/tasks/${UNKNOWN_ID}/execute`),
          api.get(`/api/tasks/${UNKNOWN_ID}/result`),
          api.get(`/api/tasks/${UNKNOWN_ID}/runs`),
        ]);
        for (const res of responses) {
          expect({ status: res.status, body: res.body }).toEqual({
            status: 404,
            body: { statusCode: 404, error: expect.stringContaining(String(UNKNOWN_ID)), request_id: expect.any(String) },
          });
        }
      });

      it('answers 400 for a non-numeric id on every task route', async () => {
        const responses = await Promise.all([
          api.get('/api/tasks/abc'),
          api.put('/api/tasks/abc').send({ name: 'x' }),
          api.delete('/api/tasks/abc'),
          api.post('/api/tasks/abc/execute'),
          api.get('/api/tasks/abc/result'),
          api.get('/api/tasks/abc/runs'),
        ]);
        for (const res of responses) {
          expect({ status: res.status, body: res.body }).toEqual({
            status: 400,
            body: { statusCode: 400, error: expect.stringContaining("'abc'"), request_id: expect.any(String) },
          });
        }
      });
    });

    describe('execute', () => {
      it('runs `echo hi`: 200 with its output, and the task stores the result', async () => {
        const id = await createTask({ name: 'greet', command: 'echo hi', server_id: serverId, schedule_type: 'once' });
        expect((await api.get(`/api/tasks/${id}/result`).expect(200)).body).toEqual({ last_run: null, message: 'No result available yet' });

        const before = Date.now();
        const res = await execute(id).expect(200);
        const after = Date.now();
        expect(res.body).toEqual({ output: 'hi\n', error: '', success: true, exit_status: 0, run_id: expect.any(Number) });

        const task = await getTask(id);
        expect(task.status).toBe('completed');
        expectIsoWithin(task.last_run, before, after);
        expect(task.result).toMatchObject({ output: 'hi\n', error: '', success: true, exit_status: 0 });

        const result = await api.get(`/api/tasks/${id}/result`).expect(200);
        expect(result.body).toEqual({ last_run: task.last_run, output: 'hi\n', error: '', success: true });
      });

      it('reports a failing command: `exit 3` gives success false and exit status 3, and the task is failed', async () => {
        const { id, body } = await runCommand(serverId, 'exit 3');
        expect(body).toEqual({ output: '', error: '', success: false, exit_status: 3, run_id: expect.any(Number) });
        const task = await getTask(id);
        expect(task.status).toBe('failed');
        expect(task.last_run).toMatch(ISO_UTC);
        expect(task.result).toMatchObject({ output: '', success: false, exit_status: 3 });
        expect((await api.get(`/api/tasks/${id}/result`).expect(200)).body).toEqual({
          last_run: task.last_run,
          output: '',
          error: '',
          success: false,
        });
      });

      it("keeps status, last_run and result when the admin UI PUTs back a run task's whole object", async () => {
        const { id } = await runCommand(serverId, 'echo kept');
        const ran = contractView(await getTask(id));
        await api
          .put(`/api/tasks/${id}`)
          .send({ ...ran, status: 'pending', last_run: null, result: null, name: 'kept renamed' })
          .expect(200);
        expect(contractView(await getTask(id))).toEqual({ ...ran, name: 'kept renamed' });
        expect((await api.get(`/api/tasks/${id}/result`).expect(200)).body).toMatchObject({ last_run: ran.last_run, output: 'kept\n' });
      });

      it('runs the command in a login shell with a pty', async () => {
        expect((await runCommand(serverId, 'tty')).body).toMatchObject({
          output: expect.stringMatching(/^\/dev\/pts\/\d+\n$/),
          success: true,
        });
        expect((await runCommand(serverId, 'shopt -q login_shell && echo login shell')).body).toMatchObject({
          output: 'login shell\n',
          success: true,
        });
      });

      it('passes quotes, $HOME, backslashes and a newline through to bash intact', async () => {
        const command =
          String.raw`printf '%s|' "it's" 'say "hi"' 'don'\''t' "$HOME" 'C:\temp\new' "a\\b" \$HOME` + '\n' + String.raw`echo 'second line'`;
        const { body } = await runCommand(serverId, command);
        expect(body).toMatchObject({
          output: String.raw`it's|say "hi"|don't|` + home + String.raw`|C:\temp\new|a\b|$HOME|second line` + '\n',
          error: '',
          success: true,
        });
        expect(home).not.toBe(process.env.HOME); // $HOME was expanded remotely, as the test user
      });

      it('returns thousands of Chinese characters intact', async () => {
        const { id, body } = await runCommand(serverId, "printf '中文%.0s' $(seq 1 3000)");
        expect(body).toMatchObject({ error: '', success: true });
        const output = body.output as string;
        expect(output).not.toContain('\uFFFD');
        expect(output).toBe('中文'.repeat(3000));
        expect((await listRuns(id))[0].output).toBe('中文'.repeat(3000));
        expect((await api.get(`/api/tasks/${id}/result`).expect(200)).body.output).toBe('中文'.repeat(3000));
      });

      it('streams task_output in the stored line endings: the events joined equal the output of GET /api/tasks/:id/result', async () => {
        // Lines first (the pty turns each LF into CRLF); then, with that translation off, a CR and 0.3 s later an LF,
        // so one CRLF is split across two chunks; the output ends with a lone CR, which is stored as it is.
        const command = `for i in 1 2 3; do echo "line $i"; done; stty -onlcr; printf 'split\\r'; sleep 0.3; printf '\\nend\\r'`;
        const id = await createTask({ name: 'line endings', command, server_id: serverId, schedule_type: 'once' });
        await t.app.listen(0, '127.0.0.1');
        const { port } = t.app.getHttpServer().address() as AddressInfo;
        const client = io(`http://127.0.0.1:${port}`, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          auth: { token: t.adminToken },
        });
        try {
          const outputs: Array<{ task_id: number; run_id: number; data: string }> = [];
          client.on('task_output', (event) => outputs.push(event));
          const finished = new Promise((resolve) => client.once('task_finished', resolve));
          const subscribed = new Promise((resolve) => client.once('task_subscribed', resolve));
          client.emit('task_subscribe', { task_id: id });
          expect(await subscribed).toEqual({ task_id: id });

          const { run_id: runId } = (await execute(id).expect(200)).body as { run_id: number };
          expect(await finished).toEqual({ task_id: id, run_id: runId, status: 'completed' });

          const stored = (await api.get(`/api/tasks/${id}/result`).expect(200)).body.output as string;
          expect(stored).toBe('line 1\nline 2\nline 3\nsplit\nend\r');
          expect(outputs.map((output) => output.data).join('')).toBe(stored);
          for (const output of outputs) expect(output).toEqual({ task_id: id, run_id: runId, data: expect.stringMatching(/^[^]+$/) });
          // The split was provoked: one event ended where the CR was, and the next began with the LF (the pty may pass
          // on `end` in a later piece still).
          const beforeSplit = outputs.findIndex((output) => output.data.endsWith('split'));
          expect(beforeSplit).toBeGreaterThanOrEqual(0);
          expect(outputs[beforeSplit + 1]?.data).toMatch(/^\n/);
        } finally {
          client.close();
        }
      });

      it('runs on a server that logs in with an encrypted private key', async () => {
        const keyServer = await createServer({
          name: 'gpu-key',
          host_ip: sshd.host,
          port: sshd.port,
          username: sshd.username,
          auth_type: 'key',
          private_key: sshd.encryptedPrivateKey,
          passphrase: sshd.passphrase,
        });
        expect((await runCommand(keyServer, 'whoami')).body).toMatchObject({ output: `${sshd.username}\n`, success: true, exit_status: 0 });
      });

      it('records every run in the history, newest first, with a limit', async () => {
        const id = await createTask({ name: 'history', command: 'echo first', server_id: serverId, schedule_type: 'once' });
        expect(await listRuns(id)).toEqual([]);

        const first = await execute(id).expect(200);
        await api.put(`/api/tasks/${id}`).send({ command: 'echo second; exit 3' }).expect(200);
        const second = await execute(id).expect(200);

        const runs = await listRuns(id);
        expect(runs).toEqual([
          {
            id: second.body.run_id,
            task_id: id,
            trigger: 'manual',
            scheduled_for: null,
            status: 'failed',
            exit_status: 3,
            duration_ms: expect.any(Number),
            output: 'second\n',
            error: '',
            started_at: expect.stringMatching(ISO_UTC),
            finished_at: expect.stringMatching(ISO_UTC),
          },
          {
            id: first.body.run_id,
            task_id: id,
            trigger: 'manual',
            scheduled_for: null,
            status: 'completed',
            exit_status: 0,
            duration_ms: expect.any(Number),
            output: 'first\n',
            error: '',
            started_at: expect.stringMatching(ISO_UTC),
            finished_at: expect.stringMatching(ISO_UTC),
          },
        ]);
        for (const run of runs) expect(Date.parse(run.finished_at!)).toBeGreaterThanOrEqual(Date.parse(run.started_at));
        expect(Date.parse(runs[0].started_at)).toBeGreaterThanOrEqual(Date.parse(runs[1].finished_at!));

        expect(await listRuns(id, '?limit=1')).toEqual([runs[0]]);
        for (const limit of ['0', 'abc', '101', '-1']) {
          const res = await api.get(`/api/tasks/${id}/runs?limit=${limit}`).expect(400);
          expect(res.body.error).toContain('limit');
        }
      });

      it('refuses a second execute (409) and a delete (409) while a run is going, and the first run completes', async () => {
        const id = await createTask({ name: 'slow', command: 'sleep 2; echo done', server_id: serverId, schedule_type: 'once' });
        const first = execute(id).then((res) => res);
        await eventually(
          () => getTask(id),
          (task) => task.status === 'executing',
          'the first run to start',
        );

        const second = await execute(id).expect(409);
        expect(second.body).toEqual({ statusCode: 409, error: expect.stringContaining('already running'), request_id: expect.any(String) });
        const deleted = await api.delete(`/api/tasks/${id}`).expect(409);
        expect(deleted.body.error).toContain('running');

        const done = await first;
        expect(done.status).toBe(200);
        expect(done.body).toEqual({ output: 'done\n', error: '', success: true, exit_status: 0, run_id: expect.any(Number) });
        expect((await getTask(id)).status).toBe('completed');
        const runs = await listRuns(id);
        expect(runs.map((run) => ({ id: run.id, status: run.status }))).toEqual([{ id: done.body.run_id, status: 'completed' }]);
      });

      // Daily tasks all fall due at 00:00, and the UI lets users start several tasks: runs of different tasks overlap.
      it('runs many different tasks at once, again and again, each reporting its own output and success', async () => {
        const ids: number[] = [];
        for (let index = 0; index < 20; index++) {
          ids.push(await createTask({ name: `parallel ${index}`, command: `echo task-${index}`, server_id: serverId, schedule_type: 'daily' }));
        }
        const rounds = 3;
        for (let round = 0; round < rounds; round++) {
          const responses = await Promise.all(ids.map((id) => execute(id)));
          expect(responses.map((res) => ({ round, status: res.status, body: res.body }))).toEqual(
            ids.map((_, index) => ({
              round,
              status: 200,
              body: { output: `task-${index}\n`, error: '', success: true, exit_status: 0, run_id: expect.any(Number) },
            })),
          );
        }
        for (const id of ids) {
          expect((await getTask(id)).status).toBe('completed');
          expect((await listRuns(id)).map((run) => run.status)).toEqual(Array(rounds).fill('completed'));
        }
      });

      it('reports an unreachable server quickly as a failed run naming host and port', async () => {
        const port = await closedPort();
        const deadServer = await createSshdServer('dead', { port });
        const id = await createTask({ name: 'on a dead host', command: 'echo never', server_id: deadServer, schedule_type: 'once' });

        const started = Date.now();
        const res = await execute(id).expect(200);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(res.body).toEqual({
          output: '',
          error: expect.stringContaining(`127.0.0.1:${port}`),
          success: false,
          exit_status: null,
          run_id: expect.any(Number),
        });

        expect((await getTask(id)).status).toBe('failed');
        const [run] = await listRuns(id);
        expect(run).toMatchObject({ id: res.body.run_id, trigger: 'manual', status: 'failed', exit_status: null, error: res.body.error });
        expect(run.finished_at).toMatch(ISO_UTC);
        expect((await api.get(`/api/tasks/${id}/result`).expect(200)).body).toMatchObject({ success: false, error: res.body.error });
      });
    });

    describe('servers and secrets', () => {
      it('refuses to delete a server a task uses (409 naming the task), and deletes it once the task is gone', async () => {
        const doomed = await createSshdServer('doomed');
        const id = await createTask({ name: 'nightly-backup', command: 'true', server_id: doomed, schedule_type: 'daily' });

        const refused = await api.delete(`/api/servers/${doomed}`).expect(409);
        expect(refused.body).toEqual({ statusCode: 409, error: expect.stringContaining('nightly-backup'), request_id: expect.any(String) });
        await api.get(`/api/servers/${doomed}`).expect(200);
        expect((await getTask(id)).server_name).toBe('doomed');

        await api.delete(`/api/tasks/${id}`).expect(200);
        await api.delete(`/api/servers/${doomed}`).expect(200);
        await api.get(`/api/servers/${doomed}`).expect(404);
      });

      it('never returns a server password or key secret in any task or server response', async () => {
        // A wrong password makes the app produce an authentication error: that text must not quote it.
        const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
        const lockedOut = await createSshdServer('locked-out', { password: wrongPassword });
        const { id: lockedTask, body } = await runCommand(lockedOut, 'echo never');
        expect(body).toMatchObject({ success: false, error: expect.stringMatching(/Authentication failed/) });

        // Fresh reads of everything that describes servers and tasks, on top of every response recorded above.
        const servers = (await api.get('/api/servers').expect(200)).body as ({ id: number } & Record<string, unknown>)[];
        expect(servers.length).toBeGreaterThanOrEqual(3);
        for (const server of servers) {
          await api.get(`/api/servers/${server.id}`).expect(200);
          for (const field of ['password', 'private_key', 'passphrase']) expect(server).not.toHaveProperty(field);
        }
        for (const task of await listTasks()) {
          await api.get(`/api/tasks/${task.id}`).expect(200);
          await api.get(`/api/tasks/${task.id}/result`).expect(200);
          await api.get(`/api/tasks/${task.id}/runs`).expect(200);
        }
        await api.get(`/api/tasks/${lockedTask}/runs`).expect(200);

        const keyBody = sshd.encryptedPrivateKey.split('\n').sort((a, b) => b.length - a.length)[0];
        const secrets = [sshd.password, sshd.passphrase, keyBody, wrongPassword];
        expect(bodies.length).toBeGreaterThan(50);
        const leaks = bodies.filter((text) => secrets.some((secret) => text.includes(secret)));
        expect(leaks).toEqual([]);
      });
    });
  });

  describe('with TASK_TIMEOUT_SECONDS=1', () => {
    let serverId: number;

    // Its own app: with PostgreSQL each startTestApp() resets the schema, so the first app is closed by now.
    beforeAll(async () => {
      t = await startTestApp({ TASK_TIMEOUT_SECONDS: '1' });
      serverId = await createSshdServer('gpu-timeout');
    });
    afterAll(() => t?.close());

    it('ends a command that outlives the timeout, records it as timed out, and leaves no remote process behind', async () => {
      const user = sshd.username;
      expect(await userProcesses(user, 'sleep 30')).toEqual([]);
      // A quick command first, so the slow one below rides on a warm pooled connection. The 1 s limit also
      // bounds connecting, which a loaded machine can exceed once; after that the connection is pooled.
      const warmTask = await createTask({ name: 'quick', command: 'echo warm', server_id: serverId, schedule_type: 'once' });
      const warm = await eventually(
        async () => (await execute(warmTask).expect(200)).body,
        (body) => body.success === true,
        'a quick command to finish within the 1 s limit',
        10_000,
      );
      expect(warm).toMatchObject({ output: 'warm\n', error: '', exit_status: 0 });

      const id = await createTask({ name: 'too slow', command: 'sleep 30', server_id: serverId, schedule_type: 'once' });
      const started = Date.now();
      let settled = false;
      const pending = execute(id).then((res) => {
        settled = true;
        return res;
      });
      // The command really started remotely (so "gone" below means it was ended, not that it never ran).
      const seen = await eventually(
        () => userProcesses(user, 'sleep 30'),
        (pids) => pids.length > 0 || settled,
        'the remote sleep to start',
      );
      expect(seen.length).toBeGreaterThan(0);

      const res = await pending;
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(elapsed).toBeLessThan(10_000);
      expect(res.body).toEqual({
        output: '',
        error: expect.stringMatching(/timed out after 1 s/i),
        success: false,
        exit_status: null,
        run_id: expect.any(Number),
      });

      const [run] = await listRuns(id);
      expect(run).toMatchObject({ id: res.body.run_id, status: 'timed_out', exit_status: null, error: res.body.error });
      expect(run.finished_at).toMatch(ISO_UTC);
      const task = await getTask(id);
      expect(task.status).toBe('failed');
      expect(task.result).toMatchObject({ success: false, error: res.body.error });

      await eventually(
        () => userProcesses(user, 'sleep 30'),
        (pids) => pids.length === 0,
        'the remote sleep 30 to be ended',
      );
    });
  });
});
