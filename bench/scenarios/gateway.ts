import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, Dispatcher } from 'undici';
import { startAgentServer, TestAgent } from '../../test/helpers/agent-server';
import { cpuMsOf, median, MS_PER_CLOCK_TICK, timed } from '../api';
import { Backend, startBackend } from '../backend';
import { Scenario, ScenarioResult, Verdict } from '../scenario';
import {
  bareProxyFigures,
  BareProxyProcess,
  ModelProcess,
  ms,
  overheadOver,
  startBareProxyProcess,
  startModelProcess,
  StreamRequest,
  StreamTiming,
  timeStream,
  timingRow,
  totalsOf,
  ttfbsOf,
} from '../streams';
import { targetNote } from '../summary';
import { renderTable } from '../table';

/** Chunks per stream of the sequential comparison, as in chat-stream. */
const LONG_CHUNKS = 2000;
/** Chunks per stream of the concurrent run: shorter, so that 200 of them finish quickly. */
const SHORT_CHUNKS = 200;
/**
 * Unmeasured short streams per path first: the backend is a fresh process, whose JIT needs a few hundred requests
 * before its cost per request settles; short ones, so that this stays quick.
 */
const WARMUP_SHORT_STREAMS = 200;
/** Then unmeasured long streams per path: the first few long ones still run slower. */
const WARMUP_STREAMS = 10;
const ROUNDS = 20;
const CONCURRENT_STREAMS = 200;
const TARGET_MAX_RATIO = 1.1;
const TARGET_MAX_TTFB_OVERHEAD_MS = 1;
/** What the loopback agents run for a deploy: the gateway only needs the services deployed, the model servers are the bench's children. */
const DEPLOY_COMMAND = 'sleep 3600';
const DEPLOY_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 50;
/** One model per part: its own model server(s), so the sequential part has a single replica to compare with. */
const LONG_MODEL = 'bench-long';
const SHORT_MODEL = 'bench-short';
const payloadOf = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
const COMPLETIONS = '/v1/chat/completions';

interface ConcurrentRun {
  wallMs: number;
  completed: StreamTiming[];
  /** The first failure's message, when some stream failed. */
  firstFailure?: string;
  /** Completion requests each replica received during the run. */
  perReplica: number[];
  backendCpuMs: number;
}

interface Results {
  direct: StreamTiming[];
  gateway: StreamTiming[];
  bareProxy: StreamTiming[];
  /** Completion requests the single long-stream replica received during the rounds (direct + gateway + bare proxy). */
  longReplicaRequests: number;
  /** Requests the bare proxy received during the rounds. */
  bareProxyRequests: number;
  warmupMs: number;
  backendCpuPerSequentialStreamMs: number;
  concurrentDirect: ConcurrentRun;
  concurrentGateway: ConcurrentRun;
  load: number[];
}

export const gateway: Scenario = {
  name: 'gateway',
  description:
    `one ${LONG_CHUNKS}-chunk SSE stream direct from a model server against the same through the /v1 gateway ` +
    `(POST /v1/chat/completions, API token), then ${CONCURRENT_STREAMS} concurrent ${SHORT_CHUNKS}-chunk streams over 2 replicas`,
  async run() {
    const loadBefore = loadavg()[0];
    const modelServers: ModelProcess[] = [];
    const agents: TestAgent[] = [];
    let bareProxy: BareProxyProcess | undefined;
    try {
      // One at a time, so that a failed start leaves everything started so far in the lists to stop.
      for (const chunks of [LONG_CHUNKS, SHORT_CHUNKS, SHORT_CHUNKS]) modelServers.push(await startModelProcess(chunks));
      while (agents.length < modelServers.length) agents.push(await startAgentServer());
      const [long, ...short] = modelServers;
      // The floor reference: one proxy to the long replica, measured, and one to a short replica, for the warm-up.
      bareProxy = await startBareProxyProcess([long.url, short[0].url]);
      const [bareProxyLongUrl, bareProxyShortUrl] = bareProxy.urls.map((url) => `${url}${COMPLETIONS}`);
      // Authentication on: the gateway takes API tokens, which belong to users.
      const backend = await startBackend({ AUTH_ENABLED: 'true' });
      // Keep-alive (undici's default): only the warm-up pays for connections.
      const client = new Agent();
      try {
        const token = (await api<{ token: string }>(backend, '/api/auth/tokens', 'POST', 201, { name: 'bench-gateway', role: 'operator' })).token;
        await deployService(backend, LONG_MODEL, [long], agents.slice(0, 1));
        await deployService(backend, SHORT_MODEL, short, agents.slice(1));
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
        await waitUntilRoutable(backend.baseUrl, headers, [LONG_MODEL, SHORT_MODEL]);

        // The same request (body and headers) every way; only the URL differs.
        const gatewayUrl = `${backend.baseUrl}${COMPLETIONS}`;
        const directLongUrl = `${long.url}${COMPLETIONS}`;
        const longRequest = { headers, body: payloadOf(LONG_MODEL), chunks: LONG_CHUNKS };
        const shortRequest = { headers, body: payloadOf(SHORT_MODEL), chunks: SHORT_CHUNKS };
        const warmupStart = performance.now();
        for (let n = 0; n < WARMUP_SHORT_STREAMS; n++) {
          await timeStream(`${short[n % 2].url}${COMPLETIONS}`, client, shortRequest);
          await timeStream(gatewayUrl, client, shortRequest);
          await timeStream(bareProxyShortUrl, client, shortRequest);
        }
        for (let n = 0; n < WARMUP_STREAMS; n++) {
          await timeStream(directLongUrl, client, longRequest);
          await timeStream(gatewayUrl, client, longRequest);
          await timeStream(bareProxyLongUrl, client, longRequest);
        }
        const warmupMs = performance.now() - warmupStart;

        const direct: StreamTiming[] = [];
        const through: StreamTiming[] = [];
        const bare: StreamTiming[] = [];
        const longBefore = await long.requests();
        const bareBefore = await bareProxy.requests();
        const cpuBefore = await cpuMsOf(backend.pid);
        // Alternating, so that a slow spell of the shared machine hits every path alike.
        for (let round = 0; round < ROUNDS; round++) {
          direct.push(await timeStream(directLongUrl, client, longRequest));
          through.push(await timeStream(gatewayUrl, client, longRequest));
          bare.push(await timeStream(bareProxyLongUrl, client, longRequest));
        }
        const backendCpuPerSequentialStreamMs = ((await cpuMsOf(backend.pid)) - cpuBefore) / ROUNDS;
        const longReplicaRequests = (await long.requests()) - longBefore;
        const bareProxyRequests = (await bareProxy.requests()) - bareBefore;

        // Baseline: the same number of streams straight to the two model servers, half each.
        const concurrentDirect = await runConcurrent((n) => `${short[n % 2].url}${COMPLETIONS}`, client, shortRequest, backend.pid, short);
        const concurrentGateway = await runConcurrent(() => gatewayUrl, client, shortRequest, backend.pid, short);
        return report({
          direct,
          gateway: through,
          bareProxy: bare,
          longReplicaRequests,
          bareProxyRequests,
          warmupMs,
          backendCpuPerSequentialStreamMs,
          concurrentDirect,
          concurrentGateway,
          load: [loadBefore, loadavg()[0]],
        });
      } finally {
        // destroy, not close: after a failure, streams still running must not hold up the clean-up.
        await client.destroy();
        await backend.stop();
      }
    } finally {
      // Kills every `sleep` the agents spawned.
      await Promise.all(agents.map((agent) => agent.stop()));
      await bareProxy?.stop();
      await Promise.all(modelServers.map((modelServer) => modelServer.stop()));
    }
  },
};

/** A request to the backend's API with the bench admin's session; any other status than `expected` throws. */
async function api<T>(backend: Backend, path: string, method: string, expected: number, body?: unknown): Promise<T> {
  const response = await fetch(`${backend.baseUrl}${path}`, {
    method,
    headers: { ...backend.authHeaders, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * A model, a server per model server (its agent at `agents[i]`, its model server at `modelServers[i]`) and a service of
 * the model on all of them, deployed for real through the agents; resolves once GET shows it deployed.
 */
async function deployService(backend: Backend, modelName: string, modelServers: ModelProcess[], agents: TestAgent[]): Promise<void> {
  const model = await api<{ id: number }>(backend, '/api/models', 'POST', 201, { name: modelName });
  const serverIds: number[] = [];
  for (const [index, modelServer] of modelServers.entries()) {
    const server = await api<{ id: number }>(backend, '/api/servers', 'POST', 201, {
      name: `${modelName}-${index + 1}`,
      host_ip: '127.0.0.1',
      username: 'u',
      agent_port: agents[index].port,
      chat_port: modelServer.port,
    });
    serverIds.push(server.id);
  }
  // A deploy_command makes the creation deploy it at once.
  const { id } = await api<{ id: number }>(backend, '/api/services', 'POST', 201, {
    name: modelName,
    model_id: model.id,
    server_ids: serverIds,
    deploy_command: DEPLOY_COMMAND,
  });
  const deadline = Date.now() + DEPLOY_TIMEOUT_MS;
  let service: { deploy_status: string; deploy_result: unknown };
  while ((service = await api(backend, `/api/services/${id}`, 'GET', 200)).deploy_status !== 'deployed') {
    if (service.deploy_status !== 'deploying' || Date.now() > deadline) {
      throw new Error(`Service ${modelName} ended ${service.deploy_status}: ${JSON.stringify(service.deploy_result)}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Polls GET /v1/models until it lists every model: the gateway reads deployed services through a short-lived cache. */
async function waitUntilRoutable(baseUrl: string, headers: Record<string, string>, models: string[]): Promise<void> {
  const deadline = Date.now() + DEPLOY_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(`${baseUrl}/v1/models`, { headers });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET /v1/models answered ${response.status}: ${text}`);
    const listed = (JSON.parse(text) as { data: { id: string }[] }).data.map(({ id }) => id);
    if (models.every((model) => listed.includes(model))) return;
    if (Date.now() > deadline) throw new Error(`GET /v1/models lists ${listed.join(', ') || 'nothing'}, not ${models.join(', ')}`);
    await sleep(POLL_INTERVAL_MS);
  }
}

/** CONCURRENT_STREAMS streams at once, stream `n` to `urlOf(n)`; counts what completed rather than failing on the first error. */
async function runConcurrent(
  urlOf: (n: number) => string,
  dispatcher: Dispatcher,
  streamRequest: StreamRequest,
  backendPid: number,
  replicas: ModelProcess[],
): Promise<ConcurrentRun> {
  const before = await Promise.all(replicas.map((replica) => replica.requests()));
  const cpuBefore = await cpuMsOf(backendPid);
  const { ms, value } = await timed(() =>
    Promise.allSettled(Array.from({ length: CONCURRENT_STREAMS }, (_, n) => timeStream(urlOf(n), dispatcher, streamRequest))),
  );
  const backendCpuMs = (await cpuMsOf(backendPid)) - cpuBefore;
  const after = await Promise.all(replicas.map((replica) => replica.requests()));
  const completed = value.filter((result) => result.status === 'fulfilled').map((result) => result.value);
  const failure = value.find((result) => result.status === 'rejected');
  return {
    wallMs: ms,
    completed,
    firstFailure: failure ? String(failure.reason instanceof Error ? failure.reason.message : failure.reason) : undefined,
    perReplica: after.map((count, index) => count - before[index]),
    backendCpuMs,
  };
}

function report(results: Results): ScenarioResult {
  const { direct, gateway: through, bareProxy, longReplicaRequests, bareProxyRequests, warmupMs } = results;
  const { backendCpuPerSequentialStreamMs, concurrentDirect, concurrentGateway, load } = results;
  const orDash = (timings: StreamTiming[], value: (timings: StreamTiming[]) => number) => (timings.length > 0 ? ms(value(timings)) : '-');
  const concurrentRow = (label: string, run: ConcurrentRun) => [
    label,
    `${run.completed.length}/${CONCURRENT_STREAMS}`,
    run.perReplica.join(' + '),
    ms(run.wallMs),
    orDash(run.completed, (timings) => median(totalsOf(timings))),
    orDash(run.completed, (timings) => Math.max(...totalsOf(timings))),
    orDash(run.completed, (timings) => median(ttfbsOf(timings))),
    String(run.backendCpuMs),
    run.completed.length > 0 ? ms(run.backendCpuMs / run.completed.length) : '-',
  ];
  const vsDirect = overheadOver(through, direct);
  const ratio: Verdict = {
    measure: 'gateway gateway / direct total (p50)',
    value: vsDirect.ratio,
    unit: 'x',
    target: { bound: '<=', value: TARGET_MAX_RATIO },
  };
  const ttfbOverhead: Verdict = {
    measure: 'gateway TTFB overhead gateway - direct (p50)',
    value: vsDirect.ttfb,
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_TTFB_OVERHEAD_MS },
  };
  const vsBare = overheadOver(through, bareProxy);
  const bareVsDirect = overheadOver(bareProxy, direct);
  const failures = [concurrentDirect, concurrentGateway]
    .map((run, index) => (run.firstFailure ? `${index === 0 ? 'direct' : 'gateway'}: first failure: ${run.firstFailure}` : ''))
    .filter(Boolean);
  const text = [
    'the model servers (test helper, no delay) each in a process of its own, as is the backend ' +
      '(AUTH_ENABLED=true, an operator API token as Bearer); each service deployed for real through a loopback agent per server ' +
      `running "${DEPLOY_COMMAND}"; client: undici request on keep-alive connections, the same body and headers every way`,
    'bare proxy (floor reference): node:http server (noDelay) in a process of its own, forwarding the body with ' +
      'undici.request (keep-alive Agent, TCP_NODELAY) and writing status, content-type and body chunks back as they come (for await over the body, write, wait for drain)',
    `load average (1 min) at start ${load[0].toFixed(2)}, at end ${load[1].toFixed(2)}`,
    '',
    `1. ${LONG_CHUNKS} chunks per stream, model ${LONG_MODEL} on one replica; warm-up, unmeasured, per path: ` +
      `${WARMUP_SHORT_STREAMS} short streams (${SHORT_CHUNKS} chunks, model ${SHORT_MODEL}), then ${WARMUP_STREAMS} long ones ` +
      `(${(warmupMs / 1000).toFixed(1)} s in all); then ${ROUNDS} alternating rounds direct, gateway, bare proxy ` +
      `(the replica had ${longReplicaRequests} requests in them, ${3 * ROUNDS} expected; the bare proxy ${bareProxyRequests}, ${ROUNDS} expected)`,
    renderTable(
      ['path', 'TTFB p50 ms', 'total p50 ms', 'total min ms', 'total max ms'],
      [
        timingRow('direct POST /v1/chat/completions on the model server', direct),
        timingRow('gateway POST /v1/chat/completions on the backend', through),
        timingRow('bare proxy POST /v1/chat/completions (floor reference)', bareProxy),
      ],
    ),
    `ratio gateway / direct total (p50): ${ratio.value.toFixed(2)}x ${targetNote(ratio)}`,
    `TTFB overhead gateway - direct (p50): ${ms(ttfbOverhead.value)} ms ${targetNote(ttfbOverhead)}`,
    `gateway overhead over the bare proxy (p50): total ratio ${vsBare.ratio.toFixed(2)}x, TTFB ${ms(vsBare.ttfb)} ms`,
    `bare proxy over direct (p50), what one plain Node proxy hop costs here: total ratio ${bareVsDirect.ratio.toFixed(2)}x, TTFB ${ms(bareVsDirect.ttfb)} ms`,
    `backend CPU per gateway stream: ${backendCpuPerSequentialStreamMs.toFixed(1)} ms (user + system over the rounds, in ${MS_PER_CLOCK_TICK} ms ticks)`,
    '',
    `2. ${CONCURRENT_STREAMS} concurrent streams of ${SHORT_CHUNKS} chunks (shorter than above, so the run stays quick), ` +
      `model ${SHORT_MODEL} on one service with 2 servers (2 replicas, 2 model servers); direct: half to each model server`,
    renderTable(
      ['path', 'completed', 'per replica', 'wall ms', 'total p50 ms', 'total max ms', 'TTFB p50 ms', 'backend CPU ms', 'CPU/stream ms'],
      [concurrentRow('direct', concurrentDirect), concurrentRow('gateway', concurrentGateway)],
    ),
    `per replica: completion requests each model server received during the run; backend CPU in ${MS_PER_CLOCK_TICK} ms ticks, per completed stream`,
    ...failures,
  ].join('\n');
  return { report: text, verdicts: [ratio, ttfbOverhead], reported: bareProxyFigures('gateway', 'gateway', bareVsDirect, vsBare) };
}
