import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { io, Socket } from 'socket.io-client';
import { startAgentServer, TestAgent } from '../helpers/agent-server';
import { BackendProcess, buildBackend, startBuiltBackend } from '../helpers/built-backend';
import { startRedis, TestRedis } from '../helpers/redis-server';
import { startSshd, TestSshd } from '../helpers/sshd';
import { resetPostgres } from '../helpers/test-app';
import { eventually } from '../helpers/wait';

/**
 * Two real backend processes on one PostgreSQL database and one Redis, as behind a load balancer: what happens
 * through one instance must be seen through the other at once, not after a cache TTL or never. Redis is the test's
 * own `redis-server`, so that it can be taken away and brought back.
 */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN = { username: 'admin', password: 'cluster-admin-password' };
/** Far longer than the suite: whatever another instance's write clears, the TTL cannot have cleared it. */
const READ_CACHE_TTL_MS = 600_000;
const REAUTH_INTERVAL_MS = 300;
const LOGIN_LIMIT_PER_IP = 4;
const ONCE_TASKS = 1000;
/** A schedule that never comes during the suite: the task runs only when executed. */
const NOT_BY_ITSELF = { schedule_type: 'once', run_at: '2099-01-01T00:00:00Z' };

interface Instance {
  process: BackendProcess;
  call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  socket(token?: string): Promise<Socket>;
}

describe('two instances on PostgreSQL + Redis', () => {
  let buildDir: string;
  let redis: TestRedis;
  let sshd: TestSshd;
  let agent: TestAgent;
  let a: Instance;
  let b: Instance;
  let adminToken: string;
  const dataDirs: string[] = [];
  const sockets: Socket[] = [];
  const processes: BackendProcess[] = [];

  async function start(): Promise<Instance> {
    const dataDir = mkdtempSync(join(tmpdir(), 'infini-cluster-'));
    dataDirs.push(dataDir);
    const backend = await startBuiltBackend(buildDir, {
      DATABASE_URL,
      REDIS_URL: redis.url,
      DATA_DIR: dataDir,
      // What the instances of one deployment share besides the database: the signing and encryption keys.
      JWT_SECRET: 'cluster-test-signing-secret-of-enough-length',
      ENCRYPTION_KEY: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
      AUTH_ENABLED: 'true',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      READ_CACHE_TTL_MS: String(READ_CACHE_TTL_MS),
      TERMINAL_REAUTH_INTERVAL_MS: String(REAUTH_INTERVAL_MS),
      LOGIN_RATE_LIMIT_PER_IP: String(LOGIN_LIMIT_PER_IP),
      // The throttling test comes from addresses of its own, as forwarded by a proxy on loopback.
      TRUST_PROXY: 'loopback',
      SCHEDULER_ENABLED: 'true',
    });
    processes.push(backend);
    return instanceOf(backend);
  }

  function instanceOf(backend: BackendProcess): Instance {
    return {
      process: backend,
      async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
        const response = await fetch(`${backend.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        return { status: response.status, body: (await response.json()) as T };
      },
      async socket(token = adminToken) {
        const socket = io(backend.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        return socket;
      },
    };
  }

  async function signIn(instance: Instance, headers: Record<string, string> = {}): Promise<{ status: number; token?: string }> {
    const response = await fetch(`${instance.process.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(ADMIN),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { access_token?: string };
    return { status: response.status, token: body.access_token };
  }

  /** Resolves with the first `event` payload the socket receives that `matches`. */
  function nextEvent<T>(socket: Socket, event: string, matches: (payload: T) => boolean, what: string, timeoutMs = 8000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.off(event, listener);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const listener = (payload: T) => {
        if (!matches(payload)) return;
        clearTimeout(timer);
        socket.off(event, listener);
        resolve(payload);
      };
      socket.on(event, listener);
    });
  }

  async function createSshServer(through: Instance, name: string): Promise<number> {
    const { status, body } = await through.call<{ id: number }>('POST', '/api/servers', {
      name,
      host_ip: sshd.host,
      port: sshd.port,
      username: sshd.username,
      password: sshd.password,
    });
    expect(status).toBe(201);
    return body.id;
  }

  async function brandNames(through: Instance): Promise<string[]> {
    const { status, body } = await through.call<Array<{ name: string }>>('GET', '/api/brands');
    expect(status).toBe(200);
    return body.map((brand) => brand.name);
  }

  beforeAll(async () => {
    // sshd first: it is the one that refuses to start on a machine without it, and then nothing else is left running.
    sshd = await startSshd();
    [buildDir, redis, agent] = await Promise.all([buildBackend(), startRedis(), startAgentServer()]);
    await resetPostgres(DATABASE_URL);
    // Started together on an empty database: they take turns at the migrations.
    [a, b] = await Promise.all([start(), start()]);
    const signedIn = await signIn(a);
    expect(signedIn.status).toBe(200);
    adminToken = signedIn.token!;
  }, 120_000);

  afterEach(() => sockets.splice(0).forEach((socket) => socket.close()));

  afterAll(async () => {
    for (const backend of processes) backend.child.kill('SIGKILL');
    await Promise.all(processes.map((backend) => backend.exited));
    await Promise.all([redis?.stop(), sshd?.stop(), agent?.stop()]);
    for (const dir of [buildDir, ...dataDirs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists a brand created through A in B at once, though B had the list cached', async () => {
    const before = await brandNames(b);
    expect(before).not.toContain('Cambricon');
    expect((await a.call('POST', '/api/brands', { name: 'Cambricon' })).status).toBe(201);
    await eventually(
      () => brandNames(b),
      (names) => names.includes('Cambricon'),
      'B to list the brand',
      3000,
    );
  });

  it('pushes service_status to a socket on A for a deploy started through B', async () => {
    const listener = await a.socket();
    const model = await b.call<{ id: number }>('POST', '/api/models', { name: 'qwen-cluster' });
    const server = await b.call<{ id: number }>('POST', '/api/servers', {
      name: 'gpu-agent',
      host_ip: '127.0.0.1',
      username: 'u',
      agent_port: agent.port,
    });
    const statuses: string[] = [];
    listener.on('service_status', (event: { deploy_status: string }) => statuses.push(event.deploy_status));
    const created = await b.call<{ id: number }>('POST', '/api/services', {
      name: 'shared',
      model_id: model.body.id,
      server_ids: [server.body.id],
      deploy_command: 'sleep 60',
    });
    expect(created.status).toBe(201);
    await nextEvent<{ id: number; deploy_status: string }>(
      listener,
      'service_status',
      (event) => event.id === created.body.id && event.deploy_status === 'deployed',
      'the deploy through B to reach A as deployed',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; statuses heard on A: ${statuses.join(', ')}`);
    });
    expect(statuses).toEqual(['deploying', 'deployed']);
  });

  it('streams task_output and task_finished to a socket on A for a run executed through B', async () => {
    const serverId = await createSshServer(a, 'gpu-task');
    const task = await a.call<{ id: number }>('POST', '/api/tasks', {
      name: 'hello',
      command: 'echo cluster-$((40+2))',
      server_id: serverId,
      ...NOT_BY_ITSELF,
    });
    const listener = await a.socket();
    listener.emit('task_subscribe', { task_id: task.body.id });
    await nextEvent(listener, 'task_subscribed', () => true, 'task_subscribed');
    const output: string[] = [];
    listener.on('task_output', (event: { data: string }) => output.push(event.data));
    const finished = nextEvent<{ task_id: number; status: string }>(listener, 'task_finished', () => true, 'task_finished on A');

    const executed = await b.call<{ output: string; success: boolean }>('POST', `/api/tasks/${task.body.id}/execute`);
    expect(executed.body.success).toBe(true);
    expect(executed.body.output).toContain('cluster-42');
    expect(await finished).toMatchObject({ task_id: task.body.id, status: 'completed' });
    expect(output.join('')).toContain('cluster-42');
  });

  it('ends on B, for requests and open sockets, a session signed out on A', async () => {
    const { token } = await signIn(a);
    const me = () => b.call('GET', '/api/auth/me', undefined, { authorization: `Bearer ${token}` });
    expect((await me()).status).toBe(200);
    const socketOnB = await b.socket(token);
    const ended = nextEvent(socketOnB, 'session_ended', () => true, 'session_ended on B', 5000);

    expect((await a.call('POST', '/api/auth/logout', undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
    await eventually(me, (answer) => answer.status === 401, 'B to refuse the token', 3000);
    await ended;
  });

  it('counts sign-in attempts from one address across both instances', async () => {
    const from = { 'x-forwarded-for': '198.51.100.7' };
    // Every allowed attempt, alternately: each instance sees only half of them.
    for (let attempt = 0; attempt < LOGIN_LIMIT_PER_IP; attempt++) expect((await signIn(attempt % 2 ? b : a, from)).status).toBe(200);
    expect((await signIn(a, from)).status).toBe(429);
    expect((await signIn(b, from)).status).toBe(429);
    // Another address is not affected.
    expect((await signIn(b, { 'x-forwarded-for': '198.51.100.8' })).status).toBe(200);
  });

  it(`runs each of ${ONCE_TASKS} once tasks due in the same second exactly once between them`, async () => {
    const serverId = await createSshServer(a, 'gpu-once');
    const due = new Date(Math.ceil((Date.now() + 3000 + ONCE_TASKS * 10) / 1000) * 1000);
    const ids: number[] = [];
    const creators = Array.from({ length: 8 }, async (_, worker) => {
      for (let n = worker; n < ONCE_TASKS; n += 8) {
        const { status, body } = await (n % 2 ? b : a).call<{ id: number }>('POST', '/api/tasks', {
          name: `once ${n}`,
          command: 'true',
          server_id: serverId,
          schedule_type: 'once',
          run_at: due.toISOString(),
        });
        expect(status).toBe(201);
        ids.push(body.id);
      }
    });
    await Promise.all(creators);
    expect(Date.now()).toBeLessThan(due.getTime());

    await eventually(
      () => a.call<Array<{ id: number; last_run: string | null; status: string }>>('GET', '/api/tasks'),
      ({ body }) => body.filter((task) => ids.includes(task.id)).every((task) => task.last_run !== null && task.status !== 'executing'),
      `all ${ONCE_TASKS} tasks to have run`,
      60_000,
    );
    const database = new Client({ connectionString: DATABASE_URL });
    await database.connect();
    try {
      const { rows } = await database.query<{ task_id: number; runs: string }>(
        'SELECT task_id, COUNT(*) AS runs FROM task_runs WHERE task_id = ANY($1) GROUP BY task_id',
        [ids],
      );
      expect(rows).toHaveLength(ONCE_TASKS);
      expect(rows.filter((row) => row.runs !== '1')).toEqual([]);
    } finally {
      await database.end();
    }
  }, 120_000);

  it('keeps serving HTTP while Redis is away, and shares events and writes again once it is back', async () => {
    const redisHealth = async (instance: Instance) => (await instance.call<{ redis: string }>('GET', '/api/health')).body.redis;
    expect(await redisHealth(a)).toBe('up');
    await redis.stop();
    // Both tell, and serve reads, writes and sign-ins (limits fall back to each instance's memory).
    await eventually(
      () => Promise.all([redisHealth(a), redisHealth(b)]),
      (states) => states.every((state) => state === 'down'),
      'both to see Redis down',
    );
    // An instance started during the outage starts all the same, says so, and joins once Redis is back.
    const c = await start();
    expect(await redisHealth(c)).toBe('down');
    expect((await signIn(c)).status).toBe(200);
    expect((await a.call('POST', '/api/brands', { name: 'Hygon' })).status).toBe(201);
    expect(await brandNames(a)).toContain('Hygon');
    expect((await b.call('GET', '/api/stats')).status).toBe(200);
    expect((await signIn(b)).status).toBe(200);
    // Local events still reach local sockets.
    const serverId = await createSshServer(a, 'gpu-outage');
    const task = await a.call<{ id: number }>('POST', '/api/tasks', { name: 'outage', command: 'echo local', server_id: serverId, ...NOT_BY_ITSELF });
    const onA = await a.socket();
    onA.emit('task_subscribe', { task_id: task.body.id });
    await nextEvent(onA, 'task_subscribed', () => true, 'task_subscribed');
    const localFinish = nextEvent(onA, 'task_finished', () => true, 'task_finished from A itself');
    expect((await a.call('POST', `/api/tasks/${task.body.id}/execute`)).status).toBe(200);
    await localFinish;

    await redis.start();
    await eventually(
      () => Promise.all([redisHealth(a), redisHealth(b), redisHealth(c)]),
      (states) => states.every((state) => state === 'up'),
      'all three to see Redis up',
      15_000,
    );
    // Once both have reconnected (and re-subscribed), a write through A clears B's cache again...
    let attempt = 0;
    await eventually(
      async () => {
        const name = `Moore Threads ${++attempt}`;
        await brandNames(b);
        expect((await a.call('POST', '/api/brands', { name })).status).toBe(201);
        return (await brandNames(b)).includes(name);
      },
      (seen) => seen,
      'B to hear of A’s writes again',
      15_000,
    );
    // ...and a run through B reaches the sockets on A and on C, which never knew Redis before.
    const onC = await c.socket();
    onC.emit('task_subscribe', { task_id: task.body.id });
    await nextEvent(onC, 'task_subscribed', () => true, 'task_subscribed on C');
    const heard = [onA, onC].map((socket) => nextEvent(socket, 'task_finished', () => true, 'task_finished from B after the outage', 15_000));
    expect((await b.call('POST', `/api/tasks/${task.body.id}/execute`)).status).toBe(200);
    await Promise.all(heard);
  }, 90_000);
});
