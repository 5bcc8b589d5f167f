import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { Agent, Dispatcher } from 'undici';
import { cpuMsOf, median, MS_PER_CLOCK_TICK, Memory, memoryOf, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Scenario, ScenarioResult, Verdict } from '../scenario';
import {
  bareProxyFigures,
  ms,
  overheadOver,
  startBareProxyProcess,
  startModelProcess,
  StreamTiming,
  timeStream,
  timingRow,
  totalsOf,
  ttfbsOf,
} from '../streams';
import { targetNote } from '../summary';
import { renderTable } from '../table';

const CHUNKS = 2000;
/**
 * Unmeasured streams per path first: the backend is a fresh process, whose JIT needs a few hundred requests before its
 * cost per request settles (with 10, its TTFB was ~1 ms higher than after 200).
 */
const WARMUP_STREAMS = 200;
const ROUNDS = 30;
const CONCURRENT_STREAMS = 100;
// Issue #19.
const TARGET_MAX_RATIO = 1.1;
const TARGET_MAX_TTFB_OVERHEAD_MS = 1;
const PAYLOAD = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }], stream: true });
const STREAM_REQUEST = { headers: { 'content-type': 'application/json' }, body: PAYLOAD, chunks: CHUNKS };

interface ConcurrentRun {
  wallMs: number;
  streams: StreamTiming[];
  backendCpuMs: number;
}

interface Results {
  direct: StreamTiming[];
  proxied: StreamTiming[];
  /** The same stream through a bare Node proxy: what one proxy hop costs on this machine, the floor for ours. */
  bareProxy: StreamTiming[];
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
    const model = await startModelProcess(CHUNKS);
    const bare = await startBareProxyProcess([model.url]).catch(async (error: unknown) => {
      await model.stop();
      throw error;
    });
    try {
      const backend = await startBackend();
      // Keep-alive (undici's default): only the warm-up pays for connections.
      const client = new Agent();
      try {
        const directUrl = `${model.url}/chat/completions`;
        const proxiedUrl = await createService(backend.baseUrl, model.port);
        const bareUrl = `${bare.urls[0]}/chat/completions`;
        for (let n = 0; n < WARMUP_STREAMS; n++) {
          await timeStream(directUrl, client, STREAM_REQUEST);
          await timeStream(proxiedUrl, client, STREAM_REQUEST);
          await timeStream(bareUrl, client, STREAM_REQUEST);
        }
        const direct: StreamTiming[] = [];
        const proxied: StreamTiming[] = [];
        const bareProxy: StreamTiming[] = [];
        const cpuBefore = await cpuMsOf(backend.pid);
        // Alternating, so that a slow spell of the shared machine hits every path alike.
        for (let round = 0; round < ROUNDS; round++) {
          direct.push(await timeStream(directUrl, client, STREAM_REQUEST));
          proxied.push(await timeStream(proxiedUrl, client, STREAM_REQUEST));
          bareProxy.push(await timeStream(bareUrl, client, STREAM_REQUEST));
        }
        // The bare proxy runs in the bench's process, so the backend's CPU over the rounds is its proxied streams' alone.
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
          bareProxy,
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
      await bare.stop();
      await model.stop();
    }
  },
};

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

async function runConcurrent(url: string, dispatcher: Dispatcher, backendPid: number): Promise<ConcurrentRun> {
  const cpuBefore = await cpuMsOf(backendPid);
  const { ms, value } = await timed(() => Promise.all(Array.from({ length: CONCURRENT_STREAMS }, () => timeStream(url, dispatcher, STREAM_REQUEST))));
  return { wallMs: ms, streams: value, backendCpuMs: (await cpuMsOf(backendPid)) - cpuBefore };
}

function report(results: Results): ScenarioResult {
  const { direct, proxied, bareProxy, backendCpuPerStreamMs, concurrentDirect, concurrentProxied, memoryBefore, memoryAfter, load } = results;
  const concurrentRow = (label: string, { wallMs, streams, backendCpuMs }: ConcurrentRun) => [
    label,
    ms(wallMs),
    ms(median(totalsOf(streams))),
    ms(Math.max(...totalsOf(streams))),
    ms(median(ttfbsOf(streams))),
    String(backendCpuMs),
  ];
  const vsDirect = overheadOver(proxied, direct);
  const vsBare = overheadOver(proxied, bareProxy);
  const bareVsDirect = overheadOver(bareProxy, direct);
  const ratio: Verdict = {
    measure: 'chat-stream proxied / direct total (medians)',
    value: vsDirect.ratio,
    unit: 'x',
    target: { bound: '<=', value: TARGET_MAX_RATIO },
  };
  const ttfbOverhead: Verdict = {
    measure: 'chat-stream TTFB overhead proxied - direct (medians)',
    value: vsDirect.ttfb,
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_TTFB_OVERHEAD_MS },
  };
  const text = [
    `${CHUNKS} chunks per stream; the model server (test helper, no delay) in a process of its own, ` +
      'the backend in its own process; client: undici request on keep-alive connections',
    'bare proxy (floor reference): node:http server (noDelay) in a process of its own, forwarding the body with ' +
      'undici.request (keep-alive Agent, TCP_NODELAY) and writing status, content-type and body chunks back as they come',
    `${WARMUP_STREAMS} unmeasured streams per path, then ${ROUNDS} alternating rounds direct, proxied, bare proxy; ` +
      `load average (1 min) at start ${load[0].toFixed(2)}, at end ${load[1].toFixed(2)}`,
    '',
    renderTable(
      ['path', 'TTFB median ms', 'total median ms', 'total min ms', 'total max ms'],
      [
        timingRow('direct POST /chat/completions', direct),
        timingRow('proxied POST /api/services/:id/chat/completions', proxied),
        timingRow('bare proxy POST /chat/completions (floor reference)', bareProxy),
      ],
    ),
    '',
    `ratio proxied / direct total (medians): ${ratio.value.toFixed(2)}x ${targetNote(ratio)}`,
    `TTFB overhead proxied - direct (medians): ${ms(ttfbOverhead.value)} ms ${targetNote(ttfbOverhead)}`,
    `proxied over the bare proxy (medians): total ratio ${vsBare.ratio.toFixed(2)}x, TTFB ${ms(vsBare.ttfb)} ms`,
    `bare proxy over direct (medians), what one plain Node proxy hop costs here: total ratio ${bareVsDirect.ratio.toFixed(2)}x, TTFB ${ms(bareVsDirect.ttfb)} ms`,
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
  return { report: text, verdicts: [ratio, ttfbOverhead], reported: bareProxyFigures('chat-stream', 'proxied', bareVsDirect, vsBare) };
}

const mb = (value: number) => value.toFixed(1);
