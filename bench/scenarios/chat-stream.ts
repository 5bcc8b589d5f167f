import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Agent, Dispatcher, request } from 'undici';
import { chunkText } from '../../test/helpers/model-server';
import { cpuMsOf, median, MS_PER_CLOCK_TICK, Memory, memoryOf, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const CHUNKS = 2000;
/** Unmeasured streams per path first: the first few of each run several times slower, until the JIT has warmed up. */
const WARMUP_STREAMS = 10;
const ROUNDS = 10;
const CONCURRENT_STREAMS = 100;
const TARGET_MAX_RATIO = 1.15;
const TARGET_MAX_TTFB_OVERHEAD_MS = 2;
const PAYLOAD = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }], stream: true });
/** Plain JS for the worker, which has no TypeScript loader of its own: it registers ts-node, then starts the helper. */
const MODEL_WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  require(workerData.tsNode).register({ transpileOnly: true });
  require(workerData.helper)
    .startModelServer({ chunks: workerData.chunks, delayMs: 0 })
    .then((model) => parentPort.postMessage(model.url));
`;

interface StreamTiming {
  /** From sending the request to the first body chunk. */
  ttfbMs: number;
  /** From sending the request to the end of the body. */
  totalMs: number;
}

interface ConcurrentRun {
  wallMs: number;
  streams: StreamTiming[];
  backendCpuMs: number;
}

interface Results {
  direct: StreamTiming[];
  proxied: StreamTiming[];
  /** Backend CPU time over the alternating rounds, divided by the proxied streams among them. */
  backendCpuPerStreamMs: number;
  concurrentDirect: ConcurrentRun;
  concurrentProxied: ConcurrentRun;
  memoryBefore: Memory;
  memoryAfter: Memory;
  load: number[];
}

export const chatStream: Scenario = {
  name: 'chat-stream',
  description:
    `one ${CHUNKS}-chunk SSE stream direct from a model server against the same through ` +
    `POST /api/services/:id/chat/completions, then ${CONCURRENT_STREAMS} concurrent streams of each`,
  async run() {
    const loadBefore = loadavg()[0];
    const model = await startModelWorker();
    try {
      const backend = await startBackend();
      // Keep-alive (undici's default): only the warm-up pays for connections.
      const client = new Agent();
      try {
        const directUrl = `${model.url}/chat/completions`;
        const proxiedUrl = await createService(backend.baseUrl, model.port);
        for (let n = 0; n < WARMUP_STREAMS; n++) {
          await timeStream(directUrl, client);
          await timeStream(proxiedUrl, client);
        }
        const direct: StreamTiming[] = [];
        const proxied: StreamTiming[] = [];
        const cpuBefore = await cpuMsOf(backend.pid);
        // Alternating, so that a slow spell of the shared machine hits both paths alike.
        for (let round = 0; round < ROUNDS; round++) {
          direct.push(await timeStream(directUrl, client));
          proxied.push(await timeStream(proxiedUrl, client));
        }
        const backendCpuPerStreamMs = ((await cpuMsOf(backend.pid)) - cpuBefore) / ROUNDS;
        // What the model server and the client alone make of the load on this machine, as the baseline.
        const concurrentDirect = await runConcurrent(directUrl, client, backend.pid);
        // Resets VmHWM to the current RSS (Linux clear_refs "5"), so the peak read afterwards is this run's own.
        await writeFile(`/proc/${backend.pid}/clear_refs`, '5');
        const memoryBefore = await memoryOf(backend.pid);
        const concurrentProxied = await runConcurrent(proxiedUrl, client, backend.pid);
        const memoryAfter = await memoryOf(backend.pid);
        return report({
          direct,
          proxied,
          backendCpuPerStreamMs,
          concurrentDirect,
          concurrentProxied,
          memoryBefore,
          memoryAfter,
          load: [loadBefore, loadavg()[0]],
        });
      } finally {
        // destroy, not close: after a failure, streams still running must not hold up the clean-up.
        await client.destroy();
        await backend.stop();
      }
    } finally {
      await model.stop();
    }
  },
};

/**
 * The model server, in a worker thread: in the bench's own thread its synchronous write loop would keep the
 * client from reading until the whole stream was written, so "first byte" would mean "last chunk written".
 */
async function startModelWorker(): Promise<{ url: string; port: number; stop(): Promise<number> }> {
  const worker = new Worker(MODEL_WORKER_SOURCE, {
    eval: true,
    workerData: { chunks: CHUNKS, tsNode: require.resolve('ts-node'), helper: require.resolve('../../test/helpers/model-server') },
  });
  try {
    // Rejects if the worker fails to start (an 'error' event).
    const [url] = (await once(worker, 'message')) as [string];
    return { url, port: Number(new URL(url).port), stop: () => worker.terminate() };
  } catch (error) {
    await worker.terminate();
    throw error;
  }
}

/** A model, a server whose model server is `chatPort`, and a service on it; returns the service's completions URL. */
async function createService(baseUrl: string, chatPort: number): Promise<string> {
  const model = await requestJson<{ id: number }>(`${baseUrl}/api/models`, 'POST', 201, { name: 'bench-model' });
  const server = await requestJson<{ id: number }>(`${baseUrl}/api/servers`, 'POST', 201, {
    name: 'gpu-1',
    host_ip: '127.0.0.1',
    username: 'u',
    chat_port: chatPort,
  });
  // No deploy_command: nothing is deployed, the proxy only needs the server's chat_port.
  const service = await requestJson<{ id: number }>(`${baseUrl}/api/services`, 'POST', 201, {
    name: 'bench-chat',
    model_id: model.id,
    server_ids: [server.id],
  });
  return `${baseUrl}/api/services/${service.id}/chat/completions`;
}

/** Streams one completion, reading the body as it arrives; throws unless every chunk came, in order, then [DONE]. */
async function timeStream(url: string, dispatcher: Dispatcher): Promise<StreamTiming> {
  const start = performance.now();
  const { statusCode, body } = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json' },
    body: PAYLOAD,
  });
  if (statusCode !== 200) throw new Error(`POST ${url} answered ${statusCode}: ${await body.text()}`);
  let ttfbMs: number | undefined;
  let pending = '';
  let events = 0;
  let done = false;
  for await (const chunk of body) {
    ttfbMs ??= performance.now() - start;
    pending += (chunk as Buffer).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('data: ')) continue;
      if (done) throw new Error(`POST ${url}: an event after [DONE]: ${line}`);
      if (line === 'data: [DONE]') {
        done = true;
      } else if (line.includes(`"content":"${chunkText(events)}"`)) {
        events++;
      } else {
        throw new Error(`POST ${url}: event ${events} is not chunk ${events}: ${line.slice(0, 200)}`);
      }
    }
  }
  const totalMs = performance.now() - start;
  if (events !== CHUNKS || !done) throw new Error(`POST ${url}: ${events}/${CHUNKS} chunks, [DONE] ${done ? 'seen' : 'missing'}`);
  return { ttfbMs: ttfbMs ?? totalMs, totalMs };
}

async function runConcurrent(url: string, dispatcher: Dispatcher, backendPid: number): Promise<ConcurrentRun> {
  const cpuBefore = await cpuMsOf(backendPid);
  const { ms, value } = await timed(() => Promise.all(Array.from({ length: CONCURRENT_STREAMS }, () => timeStream(url, dispatcher))));
  return { wallMs: ms, streams: value, backendCpuMs: (await cpuMsOf(backendPid)) - cpuBefore };
}

function report(results: Results): string {
  const { direct, proxied, backendCpuPerStreamMs, concurrentDirect, concurrentProxied, memoryBefore, memoryAfter, load } = results;
  const totals = (timings: StreamTiming[]) => timings.map(({ totalMs }) => totalMs);
  const ttfbs = (timings: StreamTiming[]) => timings.map(({ ttfbMs }) => ttfbMs);
  const row = (label: string, timings: StreamTiming[]) => [
    label,
    ms(median(ttfbs(timings))),
    ms(median(totals(timings))),
    ms(Math.min(...totals(timings))),
    ms(Math.max(...totals(timings))),
  ];
  const concurrentRow = (label: string, { wallMs, streams, backendCpuMs }: ConcurrentRun) => [
    label,
    ms(wallMs),
    ms(median(totals(streams))),
    ms(Math.max(...totals(streams))),
    ms(median(ttfbs(streams))),
    String(backendCpuMs),
  ];
  const ratio = median(totals(proxied)) / median(totals(direct));
  const ttfbOverhead = median(ttfbs(proxied)) - median(ttfbs(direct));
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  return [
    `${CHUNKS} chunks per stream; the model server (test helper, no delay) in a worker thread of the bench, ` +
      'the backend in its own process; client: undici request on keep-alive connections',
    `${WARMUP_STREAMS} unmeasured streams per path, then ${ROUNDS} alternating rounds; ` +
      `load average (1 min) at start ${load[0].toFixed(2)}, at end ${load[1].toFixed(2)}`,
    '',
    renderTable(
      ['path', 'TTFB median ms', 'total median ms', 'total min ms', 'total max ms'],
      [row('direct POST /chat/completions', direct), row('proxied POST /api/services/:id/chat/completions', proxied)],
    ),
    '',
    `ratio proxied / direct total (medians): ${ratio.toFixed(2)}x (target <= ${TARGET_MAX_RATIO}x: ${verdict(ratio <= TARGET_MAX_RATIO)})`,
    `TTFB overhead proxied - direct (medians): ${ms(ttfbOverhead)} ms ` +
      `(target <= ${TARGET_MAX_TTFB_OVERHEAD_MS} ms: ${verdict(ttfbOverhead <= TARGET_MAX_TTFB_OVERHEAD_MS)})`,
    `backend CPU per proxied stream: ${backendCpuPerStreamMs.toFixed(1)} ms ` + `(user + system over the rounds, in ${MS_PER_CLOCK_TICK} ms ticks)`,
    '',
    `${CONCURRENT_STREAMS} concurrent streams of ${CHUNKS} chunks per path: all complete with every chunk in order`,
    renderTable(
      ['path', 'wall ms', 'total p50 ms', 'total max ms', 'TTFB p50 ms', 'backend CPU ms'],
      [concurrentRow('direct', concurrentDirect), concurrentRow('proxied', concurrentProxied)],
    ),
    `backend memory around the proxied run (/proc/<pid>/status): RSS ${mb(memoryBefore.rssMb)} MB before, ` +
      `${mb(memoryAfter.rssMb)} MB after; peak (VmHWM, reset before the run) ${mb(memoryAfter.peakMb)} MB, ` +
      `+${mb(memoryAfter.peakMb - memoryBefore.rssMb)} MB`,
  ].join('\n');
}

const ms = (value: number) => value.toFixed(2);
const mb = (value: number) => value.toFixed(1);
