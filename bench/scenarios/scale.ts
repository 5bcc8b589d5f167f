import { Client } from 'pg';
import { io, Socket } from 'socket.io-client';
import { startAgentServer, TestAgent } from '../../test/helpers/agent-server';
import { startRedis, TestRedis } from '../../test/helpers/redis-server';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { cpuMsOf, createSshServer, percentile, requestJson } from '../api';
import { Backend, startBackend } from '../backend';
import { LoadResult, LoadSettings, measureGet } from '../load';
import { Scenario, ScenarioResult, Verdict } from '../scenario';
import { targetNote } from '../summary';
import { renderTable } from '../table';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TASK_LINES = 100;
const DEPLOYS = 20;
const BRAND_COUNT = 200;
const TARGET_MAX_FANOUT_P50_MS = 10;
const EVENT_TIMEOUT_MS = 30_000;

/** An event's arrival on a socket of the instance that caused it and on one of the other instance. */
interface Arrivals {
  local: number[];
  remote: number[];
}

export const scale: Scenario = {
  name: 'scale',
  description:
    'two instances on PostgreSQL + Redis: how much later an event caused through B reaches a socket on A than one on B ' +
    `(${TASK_LINES} task_output lines, ${DEPLOYS} deploys' service_status), and a cached GET /api/brands ` +
    `(${BRAND_COUNT} brands) through two instances against one, with the CPU of each process`,
  async run(settings) {
    const redis = await startRedis();
    const sshd = await startSshd();
    const agent = await startAgentServer();
    const backends: Backend[] = [];
    try {
      await emptyDatabase();
      const shared = {
        DATABASE_URL,
        REDIS_URL: redis.url,
        JWT_SECRET: 'bench-scale-signing-secret-of-enough-length',
        ENCRYPTION_KEY: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
        SCHEDULER_ENABLED: 'false',
      };
      // One after the other: the second finds the schema migrated.
      backends.push(await startBackend(shared));
      backends.push(await startBackend(shared));
      const [a, b] = backends;
      const taskLines = await taskOutputArrivals(a, b, sshd);
      const statuses = await serviceStatusArrivals(a, b, agent);
      const throughput = await cachedListThroughput(a, b, settings);
      return report(taskLines, statuses, throughput, redis);
    } finally {
      await Promise.all(backends.map((backend) => backend.stop()));
      await Promise.all([redis.stop(), sshd.stop(), agent.stop()]);
    }
  },
};

async function emptyDatabase(): Promise<void> {
  const client = new Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  } finally {
    await client.end();
  }
}

async function connect(backend: Backend): Promise<Socket> {
  const socket = io(backend.baseUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Records when each `event` matching `matches` arrives, until `count` have; resolves with the times. */
function record<T>(socket: Socket, event: string, count: number, matches: (payload: T) => boolean): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${times.length} of ${count} ${event} events arrived`)), EVENT_TIMEOUT_MS);
    socket.on(event, (payload: T) => {
      if (!matches(payload)) return;
      times.push(performance.now());
      if (times.length < count) return;
      clearTimeout(timer);
      resolve(times);
    });
  });
}

/** A run through B printing TASK_LINES lines apart, each a task_output event on both instances. */
async function taskOutputArrivals(a: Backend, b: Backend, sshd: TestSshd): Promise<Arrivals> {
  const serverId = await createSshServer(a.baseUrl, sshd, 'gpu-scale');
  const { id } = await requestJson<{ id: number }>(`${a.baseUrl}/api/tasks`, 'POST', 201, {
    name: 'lines',
    command: `for i in $(seq 1 ${TASK_LINES}); do echo line-$i; sleep 0.01; done`,
    server_id: serverId,
    schedule_type: 'once',
    run_at: '2099-01-01T00:00:00Z',
  });
  const [onA, onB] = await Promise.all([connect(a), connect(b)]);
  try {
    const finishedOn = (socket: Socket) => record(socket, 'task_finished', 1, () => true);
    await Promise.all([onA, onB].map((socket) => subscribe(socket, id)));
    const output: Record<'a' | 'b', Array<{ at: number; data: string }>> = { a: [], b: [] };
    onA.on('task_output', ({ data }: { data: string }) => output.a.push({ at: performance.now(), data }));
    onB.on('task_output', ({ data }: { data: string }) => output.b.push({ at: performance.now(), data }));
    const finished = Promise.all([finishedOn(onA), finishedOn(onB)]);
    await requestJson(`${b.baseUrl}/api/tasks/${id}/execute`, 'POST', 200);
    await finished;
    // Redis delivers one publisher's messages in order: the n-th event on A is the n-th on B.
    if (output.a.map(({ data }) => data).join('') !== output.b.map(({ data }) => data).join('')) {
      throw new Error('A and B received different task output');
    }
    return { local: output.b.map(({ at }) => at), remote: output.a.map(({ at }) => at) };
  } finally {
    onA.close();
    onB.close();
  }
}

function subscribe(socket: Socket, taskId: number): Promise<void> {
  const subscribed = record(socket, 'task_subscribed', 1, () => true);
  socket.emit('task_subscribe', { task_id: taskId });
  return subscribed.then(() => undefined);
}

/** DEPLOYS services created (and so deployed) through B, one after the other; each deploy's two statuses. */
async function serviceStatusArrivals(a: Backend, b: Backend, agent: TestAgent): Promise<Arrivals> {
  const { id: modelId } = await requestJson<{ id: number }>(`${b.baseUrl}/api/models`, 'POST', 201, { name: 'scale-model' });
  const { id: serverId } = await requestJson<{ id: number }>(`${b.baseUrl}/api/servers`, 'POST', 201, {
    name: 'gpu-agent',
    host_ip: '127.0.0.1',
    username: 'u',
    agent_port: agent.port,
  });
  const [onA, onB] = await Promise.all([connect(a), connect(b)]);
  const arrivals: Arrivals = { local: [], remote: [] };
  try {
    for (let n = 0; n < DEPLOYS; n++) {
      const twoStatuses = (socket: Socket) => record<{ deploy_status: string }>(socket, 'service_status', 2, () => true);
      const statuses = Promise.all([twoStatuses(onA), twoStatuses(onB)]);
      await requestJson(`${b.baseUrl}/api/services`, 'POST', 201, {
        name: `svc-${n}`,
        model_id: modelId,
        server_ids: [serverId],
        deploy_command: 'sleep 60',
      });
      const [remote, local] = await statuses;
      onA.off('service_status');
      onB.off('service_status');
      arrivals.remote.push(...remote);
      arrivals.local.push(...local);
    }
    return arrivals;
  } finally {
    onA.close();
    onB.close();
  }
}

interface Throughput {
  one: LoadResult;
  two: LoadResult[];
  /** CPU time over each measurement, ms: the instances and this process (the load generator). */
  cpu: { one: { a: number; bench: number }; two: { a: number; b: number; bench: number } };
  durationMs: number;
}

/** The cached list through A alone at BENCH_CONNECTIONS, then through A and B at half as many each. */
async function cachedListThroughput(a: Backend, b: Backend, settings: LoadSettings): Promise<Throughput> {
  for (let n = 1; n <= BRAND_COUNT; n++) await requestJson(`${a.baseUrl}/api/brands`, 'POST', 201, { name: `Brand ${n}` });
  const path = '/api/brands';
  const half = { ...settings, connections: Math.max(1, Math.floor(settings.connections / 2)) };
  const cpuNow = async () => ({ a: await cpuMsOf(a.pid), b: await cpuMsOf(b.pid), bench: benchCpuMs() });

  const beforeOne = await cpuNow();
  const one = await measureGet(a.baseUrl + path, settings);
  const afterOne = await cpuNow();
  const two = await Promise.all([measureGet(a.baseUrl + path, half), measureGet(b.baseUrl + path, half)]);
  const afterTwo = await cpuNow();
  // Both include the warm-up run: the CPU shares are what matter.
  return {
    one,
    two,
    cpu: {
      one: { a: afterOne.a - beforeOne.a, bench: afterOne.bench - beforeOne.bench },
      two: { a: afterTwo.a - afterOne.a, b: afterTwo.b - afterOne.b, bench: afterTwo.bench - afterOne.bench },
    },
    durationMs: (settings.durationSec + settings.warmupSec) * 1000,
  };
}

function benchCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function delaysOf({ local, remote }: Arrivals): number[] {
  return remote.map((at, index) => at - local[index]);
}

function report(taskLines: Arrivals, statuses: Arrivals, throughput: Throughput, redis: TestRedis): ScenarioResult {
  const fanouts = [
    { measure: 'scale task_output on A after B, p50', event: `task_output (${taskLines.remote.length} events)`, delays: delaysOf(taskLines) },
    { measure: 'scale service_status on A after B, p50', event: `service_status (${statuses.remote.length} events)`, delays: delaysOf(statuses) },
  ];
  const verdicts: Verdict[] = fanouts.map(({ measure, delays }) => ({
    measure,
    value: percentile(delays, 50),
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_FANOUT_P50_MS },
  }));
  const fanoutTable = renderTable(
    ['event, caused through B', 'A later than B p50', 'p99', 'max'],
    fanouts.map(({ event, delays }) => [event, ms(percentile(delays, 50)), ms(percentile(delays, 99)), ms(Math.max(...delays))]),
  );
  const { one, two, cpu, durationMs } = throughput;
  const twoRps = two.reduce((sum, result) => sum + result.requestsPerSec, 0);
  const share = (cpuMs: number) => `${((cpuMs / durationMs) * 100).toFixed(0)}%`;
  const throughputTable = renderTable(
    ['cached GET /api/brands', 'req/s', 'p99', 'CPU: A', 'CPU: B', 'CPU: load generator'],
    [
      ['one instance (A)', one.requestsPerSec.toFixed(0), ms(one.p99Ms), share(cpu.one.a), '-', share(cpu.one.bench)],
      [
        'two instances (A + B)',
        twoRps.toFixed(0),
        ms(Math.max(...two.map((result) => result.p99Ms))),
        share(cpu.two.a),
        share(cpu.two.b),
        share(cpu.two.bench),
      ],
    ],
  );
  const failures = [one, ...two].reduce((sum, result) => sum + result.non2xx + result.errors, 0);
  const report = [
    `Redis: a redis-server of the bench's own (${redis.url}); PostgreSQL: ${DATABASE_URL.replace(/\/\/[^@]*@/, '//')}`,
    fanoutTable,
    ...verdicts.map(targetNote),
    '',
    throughputTable,
    `two instances / one: ${(twoRps / one.requestsPerSec).toFixed(2)}x (no target: the cores are shared with the load generator; ` +
      'CPU as a share of one core over each measurement, warm-up included)',
    ...(failures > 0 ? [`FAILED REQUESTS: ${failures} non-2xx or errors`] : []),
  ].join('\n');
  return { report, verdicts };
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
