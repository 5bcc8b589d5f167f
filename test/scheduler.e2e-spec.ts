import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { io, Socket } from 'socket.io-client';
import { DataSource } from 'typeorm';
import { describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';
import { TaskRun } from '../src/modules/tasks/task-run.entity';
import { TaskScheduler } from '../src/modules/tasks/task-scheduler.service';
import { TasksRepository } from '../src/modules/tasks/tasks.repository';
import { completedCalls, eventually } from './helpers/wait';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The promise: a due run starts within 1 s of its slot. */
/** The scheduler on, polling often, in a fixed zone so slot arithmetic is the test's own. */
const SCHEDULER_ON = { SCHEDULER_ENABLED: 'true', SCHEDULER_POLL_MS: '100', SCHEDULER_TIMEZONE: 'UTC' };

interface Task {
  id: number;
  name: string;
  command: string;
  server_id: number;
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
  scheduled_for: string | null;
  started_at: string;
  finished_at: string | null;
  status: string;
  exit_status: number | null;
  duration_ms: number | null;
  output: string;
  error: string;
}

/** start − due of every scheduled run checked for punctuality, for the summary at the end. */
const delays: number[] = [];

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

/** A time as the `next_run` column stores it (TypeORM writes SQLite datetimes as UTC text without the T and Z). */
function dbTime(date: Date): string {
  const iso = date.toISOString();
  return process.env.DATABASE_URL ? iso : iso.replace('T', ' ').replace('Z', '');
}

const ms = (iso: string | null): number => Date.parse(iso!);

/**
 * A run the scheduler started for its slot, not before it. How soon after is a matter of speed, which `npm run bench`
 * measures; the lateness is only collected here for the summary.
 */
function expectOnTime(run: Run): void {
  expect(run).toMatchObject({ trigger: 'schedule', scheduled_for: expect.stringMatching(ISO_UTC), started_at: expect.stringMatching(ISO_UTC) });
  const late = ms(run.started_at) - ms(run.scheduled_for);
  delays.push(late);
  expect(late).toBeGreaterThanOrEqual(0);
}

/** The most runs that were going at one instant; a run still going counts as going on forever. */
function mostAtOnce(runs: Run[]): number {
  const edges = runs.flatMap((run) => [
    { at: ms(run.started_at), step: 1 },
    { at: run.finished_at ? ms(run.finished_at) : Infinity, step: -1 },
  ]);
  // An end and a start at the same millisecond do not overlap.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let going = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (going += edge.step));
  return most;
}

/** The next UTC midnight after `now`. */
function nextMidnightUtc(now = new Date()): string {
  const midnight = new Date(now);
  midnight.setUTCHours(24, 0, 0, 0);
  return midnight.toISOString();
}

/** What a user of one backend instance can do, over its HTTP API. */
function clientOf(t: TestApp) {
  const c = {
    async createServer(sshd: TestSshd, name: string): Promise<number> {
      const res = await t.http
        .post('/api/servers')
        .send({ name, host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
        .expect(201);
      return res.body.id;
    },
    async createTask(body: Record<string, unknown>): Promise<number> {
      const res = await t.http.post('/api/tasks').send(body);
      expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: { id: expect.any(Number), message: 'Task created successfully' } });
      return res.body.id;
    },
    async update(id: number, body: Record<string, unknown>): Promise<void> {
      const res = await t.http.put(`/api/tasks/${id}`).send(body);
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { message: 'Task updated successfully' } });
    },
    async task(id: number): Promise<Task> {
      return (await t.http.get(`/api/tasks/${id}`).expect(200)).body;
    },
    async tasks(): Promise<Task[]> {
      return (await t.http.get('/api/tasks').expect(200)).body;
    },
    /** The run history, newest first. */
    async runs(id: number): Promise<Run[]> {
      return (await t.http.get(`/api/tasks/${id}/runs?limit=100`).expect(200)).body;
    },
    execute(id: number) {
      return t.http.post(`/api/tasks/${id}/execute`);
    },
    /** Polls the history until `done` holds. */
    untilRuns(id: number, done: (runs: Run[]) => boolean, what: string, timeoutMs = 5000): Promise<Run[]> {
      return eventually(() => c.runs(id), done, what, timeoutMs);
    },
  };
  return c;
}

const finished = (run: Run) => run.status !== 'running';

describeSsh('task scheduler against a real sshd', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    if (process.env.SCHEDULER_DELAYS_LOG && delays.length > 0) {
      const sorted = [...delays].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      console.log(
        `scheduling delay (start − due) over ${sorted.length} runs: min ${sorted[0]} ms, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)} ms`,
      );
    }
  });

  describe('one instance with the scheduler on', () => {
    let t: TestApp;
    let c: ReturnType<typeof clientOf>;
    let serverId: number;

    beforeAll(async () => {
      t = await startTestApp(SCHEDULER_ON);
      c = clientOf(t);
      serverId = await c.createServer(sshd, 'gpu-sched');
    });
    afterAll(() => t?.close());

    it('runs a 6-field cron task on time, slot after slot, and the task mirrors its newest run', async () => {
      const created = Date.now();
      const id = await c.createTask({
        name: 'every 2 s',
        command: 'echo run-$(date +%s%N)',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '*/2 * * * * *',
      });
      const fresh = await c.task(id);
      expect(fresh).toMatchObject({ schedule_type: 'cron', cron_expression: '*/2 * * * * *', enabled: true, timezone: null });
      // The plan is an even second, at most two seconds ahead.
      const planned = ms(fresh.next_run);
      expect(fresh.next_run).toMatch(ISO_UTC);
      expect(planned % 2000).toBe(0);
      expect(planned).toBeGreaterThan(created);
      expect(planned).toBeLessThanOrEqual(Date.now() + 2000);

      const one = await c.untilRuns(id, (runs) => runs.length >= 1 && finished(runs[0]), 'the first scheduled run', 5000);
      expect(one).toHaveLength(1);
      // The first run is the first slot after creation (the read above may have come just after it was claimed).
      const first = ms(one[0].scheduled_for);
      expect(first).toBeGreaterThan(created);
      expect([planned, planned - 2000]).toContain(first);
      const afterOne = await c.task(id);
      // next_run is the scheduler's real answer: the slot after the one that ran, still ahead.
      expect(afterOne.next_run).toBe(new Date(ms(one[0].scheduled_for) + 2000).toISOString());
      expect(ms(afterOne.next_run)).toBeGreaterThan(Date.now() - 100);

      const three = await c.untilRuns(id, (runs) => runs.length >= 3 && runs.every(finished), 'three scheduled runs', 7000);
      expect(three).toHaveLength(3);
      // The history grows: the first run is still there, with the same content, below the newer ones.
      expect(three[2]).toEqual(one[0]);
      expect(three.map((run) => ms(run.scheduled_for))).toEqual([first + 4000, first + 2000, first]);
      for (const run of three) {
        expectOnTime(run);
        expect(run).toMatchObject({ task_id: id, status: 'completed', exit_status: 0, error: '', output: expect.stringMatching(/^run-\d+\r?\n$/) });
        expect(ms(run.finished_at)).toBeGreaterThanOrEqual(ms(run.started_at));
      }
      expect(new Set(three.map((run) => run.output)).size).toBe(3);

      const task = await c.task(id);
      const [newest] = three;
      expect(task.next_run).toBe(new Date(ms(newest.scheduled_for) + 2000).toISOString());
      expect(ms(task.next_run)).toBeGreaterThan(ms(afterOne.next_run));
      expect(task).toMatchObject({
        status: 'completed',
        last_run: newest.finished_at,
        result: { output: newest.output, error: '', success: true, exit_status: 0 },
      });

      await c.update(id, { enabled: false });
      expect((await c.task(id)).next_run).toBeNull();
    });

    it('refuses invalid schedules with a 400 that says what is wrong, and creates nothing', async () => {
      const before = (await c.tasks()).length;
      const base = { name: 'bad schedule', command: 'true', server_id: serverId };
      const attempt = async (fields: Record<string, unknown>) => {
        const res = await t.http.post('/api/tasks').send({ ...base, ...fields });
        return { status: res.status, body: res.body };
      };

      for (const missing of [{}, { cron_expression: null }, { cron_expression: '   ' }]) {
        expect(await attempt({ schedule_type: 'cron', ...missing })).toEqual({
          status: 400,
          body: { statusCode: 400, error: 'cron_expression is required when schedule_type is "cron"', request_id: expect.any(String) },
        });
      }
      const fourFields = await attempt({ schedule_type: 'cron', cron_expression: '* * * *' });
      expect(fourFields).toEqual({
        status: 400,
        body: { statusCode: 400, error: expect.stringContaining('5 fields'), request_id: expect.any(String) },
      });
      expect(fourFields.body.error).toContain('got 4');
      for (const [expression, value, range] of [
        ['61 * * * *', '61', '0-59'],
        ['* 25 * * *', '25', '0-23'],
        ['70 */2 * * * *', '70', '0-59'],
        ['0 0 * 13 *', '13', '1-12'],
      ]) {
        const res = await attempt({ schedule_type: 'cron', cron_expression: expression });
        expect({ expression, ...res }).toEqual({
          expression,
          status: 400,
          body: { statusCode: 400, error: expect.stringContaining('cron_expression'), request_id: expect.any(String) },
        });
        expect(res.body.error).toContain(value);
        expect(res.body.error).toContain(range);
      }

      const zone = await attempt({ schedule_type: 'daily', timezone: 'Mars/Olympus_Mons' });
      expect(zone.status).toBe(400);
      expect(zone.body.error).toContain('timezone');
      expect(zone.body.details).toEqual([expect.objectContaining({ field: 'timezone' })]);

      const runAt = await attempt({ schedule_type: 'once', run_at: 'next tuesday' });
      expect(runAt.status).toBe(400);
      expect(runAt.body.error).toContain('run_at');
      expect(runAt.body.details).toEqual([expect.objectContaining({ field: 'run_at' })]);

      expect(await c.tasks()).toHaveLength(before);

      // An edit that would make the schedule invalid is refused the same way, and changes nothing.
      const id = await c.createTask({ ...base, name: 'valid', schedule_type: 'cron', cron_expression: '0 0 * * *' });
      const stored = await c.task(id);
      const edit = await t.http.put(`/api/tasks/${id}`).send({ cron_expression: '0 0 * *' });
      expect({ status: edit.status, error: edit.body.error }).toEqual({ status: 400, error: expect.stringContaining('got 4') });
      expect(await c.task(id)).toEqual(stored);
      await c.update(id, { enabled: false });
    });

    it('skips a slot that comes while the previous run is still going, and never runs two at once', async () => {
      const id = await c.createTask({
        name: 'slow',
        command: 'sleep 3',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '*/2 * * * * *',
      });
      const snapshots: Run[][] = [];
      // run (3 s), skipped, run: the second real run can only start after the first has ended.
      const runs = await c.untilRuns(
        id,
        (seen) => {
          snapshots.push(seen);
          return seen.filter((run) => run.status !== 'skipped').length >= 2 && seen.some((run) => run.status === 'skipped');
        },
        'a skipped slot between two runs',
        9000,
      );
      await c.update(id, { enabled: false });

      for (const seen of snapshots) expect(seen.filter((run) => run.status === 'running').length).toBeLessThanOrEqual(1);
      const real = runs.filter((run) => run.status !== 'skipped');
      const skipped = runs.filter((run) => run.status === 'skipped');
      expect(mostAtOnce(real)).toBe(1);
      for (const run of real) expectOnTime(run);
      const oldest = real.at(-1)!;
      expect(oldest).toMatchObject({ status: 'completed', exit_status: 0 });
      expect(ms(oldest.finished_at) - ms(oldest.started_at)).toBeGreaterThanOrEqual(3000);
      for (const run of skipped) {
        expect(run).toMatchObject({ trigger: 'schedule', exit_status: null, output: '', error: expect.stringContaining('still going') });
        // It was skipped because a run was going at its slot.
        expect(
          real.some(
            (going) =>
              ms(going.started_at) <= ms(run.scheduled_for) && ms(run.scheduled_for) < (going.finished_at ? ms(going.finished_at) : Infinity),
          ),
        ).toBe(true);
      }
      // Every slot is accounted for once: run or skipped, two seconds apart.
      const slots = runs.map((run) => ms(run.scheduled_for)).sort((a, b) => a - b);
      expect(slots).toEqual(slots.map((_, index) => slots[0] + index * 2000));
    });

    it('does not run a disabled task, and runs it once it is enabled again', async () => {
      const id = await c.createTask({
        name: 'paused',
        command: 'echo resumed',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '* * * * * *',
        enabled: false,
      });
      expect(await c.task(id)).toMatchObject({ enabled: false, next_run: null, status: 'pending', last_run: null });
      // An enabled twin on the same schedule shows the scheduler working through those slots meanwhile.
      const twin = await c.createTask({
        name: 'twin',
        command: 'echo twin',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '* * * * * *',
      });
      const twinRuns = await c.untilRuns(twin, (runs) => runs.filter(finished).length >= 2, 'two runs of the enabled twin', 6000);
      await c.update(twin, { enabled: false });
      expect(twinRuns.every((run) => run.status === 'completed')).toBe(true);
      expect(await c.runs(id)).toEqual([]);
      expect(await c.task(id)).toMatchObject({ next_run: null, status: 'pending', last_run: null });

      const enabledAt = Date.now();
      await c.update(id, { enabled: true });
      const planned = await c.task(id);
      expect(planned.enabled).toBe(true);
      expect(ms(planned.next_run)).toBeGreaterThan(enabledAt);
      expect(ms(planned.next_run)).toBeLessThanOrEqual(Date.now() + 1000);

      await c.untilRuns(id, (runs) => runs.length >= 1 && finished(runs.at(-1)!), 'a run after re-enabling', 4000);
      await c.update(id, { enabled: false });
      const oldest = (await c.runs(id)).at(-1)!;
      // The planned slot (or, when the read above came just after it was claimed, the one before it).
      expect(ms(oldest.scheduled_for)).toBeGreaterThan(enabledAt);
      expect([planned.next_run, new Date(ms(planned.next_run) - 1000).toISOString()]).toContain(oldest.scheduled_for);
      expectOnTime(oldest);
      expect(oldest).toMatchObject({ task_id: id, status: 'completed', output: expect.stringMatching(/^resumed\r?\n$/) });
    });

    it('runs a once task exactly once: right after creation without run_at, at run_at with it', async () => {
      const posted = Date.now();
      const now = await c.createTask({ name: 'once now', command: 'echo now', server_id: serverId, schedule_type: 'once' });
      const created = Date.now();
      const runAt = new Date(Date.now() + 2000);
      const later = await c.createTask({
        name: 'once later',
        command: 'echo later',
        server_id: serverId,
        schedule_type: 'once',
        run_at: runAt.toISOString(),
      });
      expect(await c.task(later)).toMatchObject({ run_at: runAt.toISOString(), next_run: runAt.toISOString(), status: 'pending' });

      const [nowRun] = await c.untilRuns(now, (runs) => runs.length > 0 && finished(runs[0]), 'the run right after creation', 3000);
      expectOnTime(nowRun);
      expect(ms(nowRun.scheduled_for)).toBeGreaterThanOrEqual(posted - 5);
      expect(ms(nowRun.scheduled_for)).toBeLessThanOrEqual(created + 5);
      expect(nowRun).toMatchObject({ status: 'completed', output: expect.stringMatching(/^now\r?\n$/) });
      const [laterRun] = await c.untilRuns(later, (runs) => runs.length > 0 && finished(runs[0]), 'the run at run_at', 5000);
      expect(laterRun.scheduled_for).toBe(runAt.toISOString());
      // The run_at one waited for its time.
      expectOnTime(laterRun);
      expect(laterRun).toMatchObject({ status: 'completed', output: expect.stringMatching(/^later\r?\n$/) });

      // Some polls later, still one run each and nothing left to do.
      await completedCalls(t.app.get(TaskScheduler), 'poll', 3);
      for (const [id, run] of [
        [now, nowRun],
        [later, laterRun],
      ] as const) {
        expect(await c.runs(id)).toEqual([run]);
        expect(await c.task(id)).toMatchObject({ next_run: null, status: 'completed', last_run: run.finished_at });
      }
    });

    it('ends a run past its timeout_seconds as timed_out, and the remote command with it', async () => {
      // Unique, so that other test processes' sleeps on this machine do not count.
      const command = `sleep 30.${randomInt(100000, 999999)}`;
      const user = sshd.username;
      const id = await c.createTask({ name: 'too slow', command, server_id: serverId, schedule_type: 'once', timeout_seconds: 1, enabled: false });
      expect((await c.task(id)).timeout_seconds).toBe(1);
      await c.update(id, { enabled: true });

      // The command really started remotely, so "gone" below means it was ended.
      const seen = await eventually(
        async () => ({ pids: await userProcesses(user, command), runs: await c.runs(id) }),
        ({ pids, runs }) => pids.length > 0 || (runs.length > 0 && finished(runs[0])),
        'the remote sleep to start',
        5000,
      );
      expect(seen.pids.length).toBeGreaterThan(0);

      const [run] = await c.untilRuns(id, (runs) => runs.length > 0 && finished(runs[0]), 'the run to time out', 8000);
      expect(run).toMatchObject({
        trigger: 'schedule',
        status: 'timed_out',
        exit_status: null,
        error: expect.stringMatching(/timed out after 1 s/i),
      });
      expect(ms(run.finished_at) - ms(run.started_at)).toBeGreaterThanOrEqual(1000);
      expect(ms(run.finished_at) - ms(run.started_at)).toBeLessThan(5000);
      expect(await c.task(id)).toMatchObject({ status: 'failed', last_run: run.finished_at, result: { success: false, error: run.error } });

      await eventually(
        () => userProcesses(user, command),
        (pids) => pids.length === 0,
        'the remote sleep to be ended',
        5000,
      );
    });

    it('streams live output to Socket.IO subscribers while the run goes, then tells them how it ended', async () => {
      await t.app.listen(0, '127.0.0.1');
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const id = await c.createTask({
        name: 'ticker',
        command: 'for i in 1 2 3; do echo tick$i; sleep 0.3; done',
        server_id: serverId,
        schedule_type: 'once',
        enabled: false,
      });

      const connect = async (): Promise<Socket> => {
        const socket = io(`http://127.0.0.1:${port}`, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          auth: { token: t.adminToken },
        });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        return socket;
      };
      const client = await connect();
      try {
        const outputs: Array<{ task_id: number; run_id: number; data: string }> = [];
        let runsAtFirstTick: Promise<Run[]> | undefined;
        client.on('task_output', (event) => {
          outputs.push(event);
          if (
            !runsAtFirstTick &&
            outputs
              .map((output) => output.data)
              .join('')
              .includes('tick1')
          )
            runsAtFirstTick = c.runs(id);
        });
        const end = new Promise<{ task_id: number; run_id: number; status: string }>((resolve) => client.once('task_finished', resolve));

        const subscribed = new Promise((resolve) => client.once('task_subscribed', resolve));
        client.emit('task_subscribe', { task_id: id });
        expect(await subscribed).toEqual({ task_id: id });
        const refused = new Promise((resolve) => client.once('task_error', resolve));
        client.emit('task_subscribe', { task_id: 0 });
        expect(await refused).toEqual({ error: 'task_id must be a positive integer' });
        const unknown = new Promise((resolve) => client.once('task_error', resolve));
        client.emit('task_subscribe', { task_id: 987654 });
        expect(await unknown).toEqual({ error: 'Task 987654 not found', task_id: 987654 });

        const res = await c.execute(id).expect(200);
        const runId: number = res.body.run_id;
        expect(res.body).toMatchObject({ success: true, exit_status: 0 });
        expect(await end).toEqual({ task_id: id, run_id: runId, status: 'completed' });

        // Output arrived while the run was still going, not all at the end.
        expect(runsAtFirstTick).toBeDefined();
        const [going] = await runsAtFirstTick!;
        expect(going).toMatchObject({ id: runId, status: 'running' });
        for (const output of outputs) expect(output).toEqual({ task_id: id, run_id: runId, data: expect.any(String) });
        expect(outputs.map((output) => output.data).join('')).toMatch(/tick1\r?\ntick2\r?\ntick3\r?\n/);

        const badUnsubscribe = new Promise((resolve) => client.once('task_error', resolve));
        client.emit('task_unsubscribe', { task_id: 'x' });
        expect(await badUnsubscribe).toEqual({ error: 'task_id must be a positive integer' });
        const unsubscribed = new Promise((resolve) => client.once('task_unsubscribed', resolve));
        client.emit('task_unsubscribe', { task_id: id });
        expect(await unsubscribed).toEqual({ task_id: id });
        // A witness still subscribed hears the next run end; the unsubscribed client, asked a question after that,
        // answers it without having heard of the run (one socket's events arrive in order).
        const witness = await connect();
        try {
          const witnessSubscribed = new Promise((resolve) => witness.once('task_subscribed', resolve));
          witness.emit('task_subscribe', { task_id: id });
          await witnessSubscribed;
          const heard: unknown[] = [];
          client.on('task_finished', (event) => heard.push(event));
          const witnessed = new Promise((resolve) => witness.once('task_finished', resolve));
          await c.execute(id).expect(200);
          await witnessed;
          const answered = new Promise((resolve) => client.once('task_error', resolve));
          client.emit('task_subscribe', { task_id: 0 });
          await answered;
          expect(heard).toEqual([]);
        } finally {
          witness.close();
        }
      } finally {
        client.close();
      }
    });
  });

  describe('with polls a minute apart', () => {
    let t: TestApp;
    let c: ReturnType<typeof clientOf>;
    let serverId: number;

    // No regular poll comes during these tests (the first is a minute after start-up): a wake-up started whatever runs.
    beforeAll(async () => {
      t = await startTestApp({ ...SCHEDULER_ON, SCHEDULER_POLL_MS: '60000' });
      c = clientOf(t);
      serverId = await c.createServer(sshd, 'gpu-wake');
    });
    afterAll(() => t?.close());

    it('starts a once task at creation and one at its run_at, then a re-planned one at its new run_at', async () => {
      const now = await c.createTask({ name: 'wake now', command: 'echo now', server_id: serverId, schedule_type: 'once' });
      const runAt = new Date(Date.now() + 1500).toISOString();
      const soon = await c.createTask({ name: 'wake soon', command: 'echo soon', server_id: serverId, schedule_type: 'once', run_at: runAt });
      const farAway = new Date(Date.now() + 3_600_000).toISOString();
      const moved = await c.createTask({ name: 'wake moved', command: 'echo moved', server_id: serverId, schedule_type: 'once', run_at: farAway });

      const [nowRun] = await c.untilRuns(now, (runs) => runs.length > 0 && finished(runs[0]), 'the run right after creation');
      const [soonRun] = await c.untilRuns(soon, (runs) => runs.length > 0 && finished(runs[0]), 'the run at run_at');
      expect(soonRun.scheduled_for).toBe(runAt);
      for (const run of [nowRun, soonRun]) expectOnTime(run);
      expect(await c.runs(moved)).toEqual([]);

      const movedTo = new Date(Date.now() + 1000).toISOString();
      await c.update(moved, { run_at: movedTo });
      const [movedRun] = await c.untilRuns(moved, (runs) => runs.length > 0 && finished(runs[0]), 'the run at the new run_at');
      expect(movedRun).toMatchObject({ scheduled_for: movedTo, status: 'completed', output: expect.stringMatching(/^moved\r?\n$/) });
      expectOnTime(movedRun);
    });

    it('runs a cron task slot after slot: each run wakes the scheduler for the next slot', async () => {
      const id = await c.createTask({
        name: 'wake cron',
        command: 'true',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '*/2 * * * * *',
      });

      const runs = await c.untilRuns(id, (all) => all.length >= 3 && all.every(finished), 'three scheduled runs', 9000);
      const slots = runs.map((run) => ms(run.scheduled_for));
      expect(slots.slice(1)).toEqual(slots.slice(0, -1).map((slot) => slot - 2000));
      for (const run of runs) expectOnTime(run);
      await c.update(id, { enabled: false });
    });
  });

  describe('misfire at start-up', () => {
    let t: TestApp;
    let c: ReturnType<typeof clientOf>;
    let serverId: number;

    // The first instance only edits: its scheduler is off, as if the backend were down.
    beforeAll(async () => {
      t = await startTestApp({ SCHEDULER_TIMEZONE: 'UTC' });
      c = clientOf(t);
      serverId = await c.createServer(sshd, 'gpu-misfire');
    });
    afterAll(() => t?.close());

    /** A daily-at-midnight task whose next_run is the midnight three days ago: three or four slots were missed. */
    async function missedTask(name: string): Promise<{ id: number; missed: string }> {
      const id = await c.createTask({ name, command: `echo ${name}`, server_id: serverId, schedule_type: 'cron', cron_expression: '0 0 * * *' });
      expect((await c.task(id)).next_run).toBe(nextMidnightUtc());
      const missed = new Date();
      missed.setUTCHours(0, 0, 0, 0);
      missed.setUTCDate(missed.getUTCDate() - 3);
      await t.sql(`UPDATE tasks SET next_run = ${placeholder(1)} WHERE id = ${placeholder(2)}`, [dbTime(missed), id]);
      expect((await c.task(id)).next_run).toBe(missed.toISOString());
      return { id, missed: missed.toISOString() };
    }

    it('runs a task whose slots were missed once at start-up (SCHEDULER_MISFIRE=run_once), then goes on schedule', async () => {
      const { id, missed } = await missedTask('caught-up');
      const booted = await startTestApp({ ...SCHEDULER_ON }, false, t);
      try {
        const b = clientOf(booted);
        const runs = await b.untilRuns(id, (seen) => seen.length > 0 && seen.every(finished), 'the catch-up run', 5000);
        expect(runs).toEqual([
          expect.objectContaining({
            trigger: 'schedule',
            scheduled_for: missed,
            status: 'completed',
            output: expect.stringMatching(/^caught-up\r?\n$/),
          }),
        ]);
        expect(ms(runs[0].started_at)).toBeGreaterThan(ms(missed));
        expect((await b.task(id)).next_run).toBe(nextMidnightUtc());
        // Not once per missed slot: some polls later there is still that one run.
        await completedCalls(booted.app.get(TaskScheduler), 'poll', 3);
        expect(await b.runs(id)).toEqual(runs);
        expect(await b.task(id)).toMatchObject({ next_run: nextMidnightUtc(), status: 'completed', last_run: runs[0].finished_at });
      } finally {
        await booted.close();
      }
    });

    it('records the missed slot as skipped and runs nothing with SCHEDULER_MISFIRE=skip', async () => {
      const { id, missed } = await missedTask('left-out');
      const booted = await startTestApp({ ...SCHEDULER_ON, SCHEDULER_MISFIRE: 'skip' }, false, t);
      try {
        const b = clientOf(booted);
        const runs = await b.untilRuns(id, (seen) => seen.length > 0, 'the skipped slot to be recorded', 3000);
        expect(runs).toEqual([
          expect.objectContaining({
            trigger: 'schedule',
            scheduled_for: missed,
            status: 'skipped',
            exit_status: null,
            output: '',
            error: expect.stringContaining('SCHEDULER_MISFIRE=skip'),
          }),
        ]);
        expect((await b.task(id)).next_run).toBe(nextMidnightUtc());
        await completedCalls(booted.app.get(TaskScheduler), 'poll', 3);
        expect(await b.runs(id)).toEqual(runs);
        expect(await b.task(id)).toMatchObject({ next_run: nextMidnightUtc(), status: 'pending', last_run: null, result: null });
      } finally {
        await booted.close();
      }
    });
  });

  describe('two instances on one database', () => {
    let a: TestApp;
    let b: TestApp | undefined;

    beforeAll(async () => {
      a = await startTestApp(SCHEDULER_ON);
      b = await startTestApp(SCHEDULER_ON, false, a);
    });
    // The sharing one first: each close restores the environment its start found.
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    it('runs every slot exactly once between them', async () => {
      const ca = clientOf(a);
      const cb = clientOf(b!);
      const serverId = await ca.createServer(sshd, 'gpu-shared');
      const schedules = [
        { cron: '*/2 * * * * *', step: 2000 },
        { cron: '* * * * * *', step: 1000 },
      ];
      const ids: number[] = [];
      /** The first slot planned for each task, as read right after creating it. */
      const firsts: number[] = [];
      for (const { cron } of schedules) {
        const created = Date.now();
        const id = await cb.createTask({
          name: `shared ${cron}`,
          command: 'echo shared',
          server_id: serverId,
          schedule_type: 'cron',
          cron_expression: cron,
        });
        const planned = ms((await ca.task(id)).next_run);
        expect(planned).toBeGreaterThan(created);
        ids.push(id);
        firsts.push(planned);
      }

      // About 7 s of slots.
      await ca.untilRuns(
        ids[0],
        (runs) => runs.some((run) => ms(run.scheduled_for) >= firsts[0] + 6000 && finished(run)),
        'the slots of ~7 s',
        11_000,
      );
      for (const id of ids) await ca.update(id, { enabled: false });
      const settled = await Promise.all(ids.map((id) => cb.untilRuns(id, (runs) => runs.every(finished), 'the last runs to finish', 5000)));

      settled.forEach((runs, index) => {
        const { step } = schedules[index];
        const slots = runs.map((run) => ms(run.scheduled_for)).sort((x, y) => x - y);
        // No slot twice, none missed: consecutive slots from the first one (the read of the plan may have come
        // just after the first slot was claimed).
        expect([firsts[index], firsts[index] - step]).toContain(slots[0]);
        expect(slots).toEqual(slots.map((_, i) => slots[0] + i * step));
        // Through the slot awaited above: both tasks plan it, and one poll claims the slots that have come.
        expect(slots.at(-1)).toBeGreaterThanOrEqual(firsts[0] + 6000);
        for (const run of runs) {
          expectOnTime(run);
          expect(run).toMatchObject({ status: 'completed', output: expect.stringMatching(/^shared\r?\n$/) });
        }
      });
      // Both instances give the same history.
      expect(await Promise.all(ids.map((id) => ca.runs(id)))).toEqual(settled);
    });

    // Scaling out or a rolling restart boots an instance while the others run tasks: their runs are not its to end.
    it('leaves runs of the other instances alone when one more instance starts, and still never overlaps a task', async () => {
      const ca = clientOf(a);
      const serverId = await ca.createServer(sshd, 'gpu-rolling');
      const id = await ca.createTask({
        name: 'long',
        command: 'sleep 3',
        server_id: serverId,
        schedule_type: 'cron',
        cron_expression: '*/2 * * * * *',
      });
      const started = await ca.untilRuns(id, (runs) => runs.some((run) => run.status === 'running'), 'a run to be going', 4000);
      const going = started.find((run) => run.status === 'running')!;

      const c = await startTestApp(SCHEDULER_ON, false, a);
      try {
        const cc = clientOf(c);
        // Still going, as far as every instance's API tells.
        expect((await ca.runs(id)).find((run) => run.id === going.id)).toMatchObject({ status: 'running', finished_at: null, error: '' });
        expect((await cc.task(id)).status).toBe('executing');

        // The next slot comes while it goes: skipped, whichever instance claims it.
        const runs = await cc.untilRuns(id, (seen) => seen.some((run) => ms(run.scheduled_for) > ms(going.scheduled_for)), 'the next slot', 4000);
        await ca.update(id, { enabled: false });
        const all = await cc.untilRuns(id, (seen) => seen.every(finished), 'the runs to end', 6000);
        expect(runs.find((run) => ms(run.scheduled_for) === ms(going.scheduled_for) + 2000)).toMatchObject({ status: 'skipped' });
        expect(mostAtOnce(all.filter((run) => run.status !== 'skipped'))).toBe(1);
        expect(all.find((run) => run.id === going.id)).toMatchObject({ status: 'completed', exit_status: 0 });
      } finally {
        await c.close();
      }
    });
  });

  describe('with TASKS_MAX_PARALLEL_PER_SERVER=1', () => {
    let t: TestApp;
    let c: ReturnType<typeof clientOf>;

    beforeAll(async () => {
      t = await startTestApp({ TASKS_MAX_PARALLEL_PER_SERVER: '1' });
      c = clientOf(t);
    });
    afterAll(() => t?.close());

    it("runs one task at a time on a server, while another server's task runs beside them", async () => {
      const [busy, other] = [await c.createServer(sshd, 'gpu-busy'), await c.createServer(sshd, 'gpu-other')];
      const onBusy: number[] = [];
      for (let index = 0; index < 2; index++) {
        onBusy.push(await c.createTask({ name: `busy ${index}`, command: `sleep 1; echo b${index}`, server_id: busy, schedule_type: 'daily' }));
      }
      const onOther = await c.createTask({ name: 'other', command: 'sleep 1; echo o', server_id: other, schedule_type: 'daily' });
      const responses = await Promise.all([...onBusy, onOther].map((id) => c.execute(id)));
      expect(responses.map((res) => [res.status, res.body.success])).toEqual([
        [200, true],
        [200, true],
        [200, true],
      ]);
      const busyRuns = (await Promise.all(onBusy.map((id) => c.runs(id)))).flat();
      const otherRuns = await c.runs(onOther);
      expect(busyRuns).toHaveLength(2);
      expect(mostAtOnce(busyRuns)).toBe(1);
      // The other server did not wait for the busy one's queue.
      expect(mostAtOnce([...busyRuns, ...otherRuns])).toBe(2);
    });
  });

  describe('with TASKS_MAX_PARALLEL=2 and TASK_RUNS_KEEP=3', () => {
    let t: TestApp;
    let c: ReturnType<typeof clientOf>;
    let serverId: number;

    beforeAll(async () => {
      t = await startTestApp({ TASKS_MAX_PARALLEL: '2', TASK_RUNS_KEEP: '3' });
      c = clientOf(t);
      serverId = await c.createServer(sshd, 'gpu-limits');
    });
    afterAll(() => t?.close());

    it('keeps only the newest TASK_RUNS_KEEP runs of a task', async () => {
      const id = await c.createTask({ name: 'kept', command: 'echo kept', server_id: serverId, schedule_type: 'daily' });
      const other = await c.createTask({ name: 'other', command: 'echo other', server_id: serverId, schedule_type: 'daily' });
      const otherRun = (await c.execute(other).expect(200)).body.run_id;
      const runIds: number[] = [];
      for (let index = 0; index < 5; index++) {
        const res = await c.execute(id).expect(200);
        expect(res.body).toMatchObject({ success: true });
        runIds.push(res.body.run_id);
      }
      const runs = await c.runs(id);
      expect(runs.map((run) => run.id)).toEqual(runIds.slice(2).reverse());
      for (const run of runs) expect(run).toMatchObject({ trigger: 'manual', status: 'completed', output: expect.stringMatching(/^kept\r?\n$/) });
      // Per task: the other task's history is untouched.
      expect((await c.runs(other)).map((run) => run.id)).toEqual([otherRun]);
      // The list shows the newest three at once; the older rows go when histories are trimmed (at start-up and then
      // every few minutes), in one statement for all tasks.
      const stored = async () =>
        (await t.app.get(DataSource).getRepository(TaskRun).findBy({ task_id: id })).map((run) => run.id).sort((a, b) => a - b);
      expect(await stored()).toEqual(runIds);
      expect(await t.app.get(TasksRepository).trimHistories(3)).toBe(2);
      expect(await stored()).toEqual(runIds.slice(2));
      expect((await c.runs(other)).map((run) => run.id)).toEqual([otherRun]);
    });

    it('runs at most TASKS_MAX_PARALLEL tasks at once; the others wait their turn and all succeed', async () => {
      const ids: number[] = [];
      for (let index = 0; index < 4; index++) {
        ids.push(await c.createTask({ name: `queued ${index}`, command: `sleep 1; echo q${index}`, server_id: serverId, schedule_type: 'daily' }));
      }
      const started = Date.now();
      const responses = await Promise.all(ids.map((id) => c.execute(id)));
      const elapsed = Date.now() - started;
      expect(responses.map((res) => ({ status: res.status, output: res.body.output, success: res.body.success }))).toEqual(
        ids.map((_, index) => ({ status: 200, output: expect.stringMatching(new RegExp(`^q${index}\\r?\\n$`)), success: true })),
      );
      // Two at a time: at least two rounds of one second; that no more than two overlapped is checked on the runs below.
      expect(elapsed).toBeGreaterThanOrEqual(2000);
      const runs = (await Promise.all(ids.map((id) => c.runs(id)))).flat();
      expect(runs).toHaveLength(4);
      expect(mostAtOnce(runs)).toBe(2);
    });
  });
});
