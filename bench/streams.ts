import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Agent, Dispatcher, request } from 'undici';
import { chunkText, startModelServer } from '../test/helpers/model-server';
import { median } from './api';

/** What a worker thread started: its servers' URLs, and how many requests they have had between them. */
interface WorkerServers {
  urls: string[];
  requestCount(): number;
}

/** The functions a worker thread can start, by name (exported below, so that the worker finds them in this module). */
type WorkerEntry = 'modelServerInWorker' | 'bareProxyInWorker';

/**
 * Plain JS for the worker, which has no TypeScript loader of its own: it registers ts-node, starts `entry` of this
 * module, posts the URLs, then answers every message with the number of requests its servers have had.
 */
const WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  require(workerData.tsNode).register({ transpileOnly: true });
  require(workerData.module)[workerData.entry](workerData.options).then((servers) => {
    parentPort.on('message', () => parentPort.postMessage(servers.requestCount()));
    parentPort.postMessage(servers.urls);
  });
`;

interface InWorker {
  urls: string[];
  /** Requests its servers have received so far. */
  requests: () => Promise<number>;
  stop: () => Promise<number>;
}

async function startInWorker(entry: WorkerEntry, options: unknown): Promise<InWorker> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { entry, options, tsNode: require.resolve('ts-node'), module: __filename },
  });
  try {
    // Rejects if the worker fails to start (an 'error' event).
    const [urls] = (await once(worker, 'message')) as [string[]];
    // Asked one at a time (the bench awaits each), so the next message is the answer.
    const requests = async () => {
      const answer = once(worker, 'message') as Promise<[number]>;
      worker.postMessage('requests');
      return (await answer)[0];
    };
    return { urls, requests, stop: () => worker.terminate() };
  } catch (error) {
    await worker.terminate();
    throw error;
  }
}

/** Runs in the worker: the test helper's model server, no delay between chunks. */
export async function modelServerInWorker({ chunks }: { chunks: number }): Promise<WorkerServers> {
  const model = await startModelServer({ chunks, delayMs: 0 });
  return { urls: [model.url], requestCount: () => model.requests.length };
}

export interface ModelWorker {
  url: string;
  port: number;
  /** Completion requests the model server has received so far. */
  requests(): Promise<number>;
  stop(): Promise<number>;
}

/**
 * A model server streaming `chunks` chunks per completion, in a worker thread: in the bench's own thread its
 * synchronous write loop would keep the client from reading until the whole stream was written, so "first byte"
 * would mean "last chunk written".
 */
export async function startModelWorker(chunks: number): Promise<ModelWorker> {
  const {
    urls: [url],
    requests,
    stop,
  } = await startInWorker('modelServerInWorker', { chunks });
  return { url, port: Number(new URL(url).port), requests, stop };
}

/** Runs in the worker: a bare reverse proxy per upstream, all sharing one keep-alive undici Agent (TCP_NODELAY by default). */
export async function bareProxyInWorker({ upstreams }: { upstreams: string[] }): Promise<WorkerServers> {
  const dispatcher = new Agent();
  let count = 0;
  const urls: string[] = [];
  for (const upstream of upstreams) {
    const forward = async (req: IncomingMessage, res: ServerResponse) => {
      const answer = await request(`${upstream}${req.url}`, {
        method: req.method as Dispatcher.HttpMethod,
        dispatcher,
        headers: pick(req.headers, ['content-type', 'content-length']),
        body: req,
      });
      const contentType = answer.headers['content-type'];
      res.writeHead(answer.statusCode, contentType === undefined ? {} : { 'content-type': contentType });
      const clientGone = new AbortController();
      res.once('close', () => clientGone.abort());
      // What has arrived, as it comes: each read hands over all the body buffered so far, one write. Not pipeline(),
      // which writes every socket read on its own: measured slower, so a floor built on it would flatter the gateway.
      for await (const chunk of answer.body) {
        // Back-pressure: no more reads until the client has taken what was written.
        if (!res.write(chunk)) await once(res, 'drain', { signal: clientGone.signal });
      }
      res.end();
    };
    const server = createServer({ noDelay: true }, (req, res) => {
      count++;
      forward(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return { urls, requestCount: () => count };
}

/** The headers of `names` that are present. */
function pick(headers: IncomingHttpHeaders, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (typeof headers[name] === 'string' ? [[name, headers[name]]] : [])));
}

export interface BareProxyWorker {
  /** The proxy's URL for each upstream, in the order given. */
  urls: string[];
  /** Requests the proxies have received so far. */
  requests(): Promise<number>;
  stop(): Promise<number>;
}

/**
 * Bare reverse proxies written the most direct way, in a worker thread of the bench (its own event loop, as the
 * backend has its own process): a `node:http` server (noDelay) per upstream that forwards the request body with
 * `undici.request` and passes the upstream's status, content-type and body chunks, with back-pressure, to its client.
 */
export function startBareProxyWorker(upstreams: string[]): Promise<BareProxyWorker> {
  return startInWorker('bareProxyInWorker', { upstreams });
}

export interface StreamTiming {
  /** From sending the request to the first body chunk. */
  ttfbMs: number;
  /** From sending the request to the end of the body. */
  totalMs: number;
}

export interface StreamRequest {
  headers: Record<string, string>;
  body: string;
  /** Chunks the stream must carry. */
  chunks: number;
}

/** Streams one completion, reading the body as it arrives; throws unless every chunk came, in order, then [DONE]. */
export async function timeStream(url: string, dispatcher: Dispatcher, { headers, body: payload, chunks }: StreamRequest): Promise<StreamTiming> {
  const start = performance.now();
  const { statusCode, body } = await request(url, { method: 'POST', dispatcher, headers, body: payload });
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
  if (events !== chunks || !done) throw new Error(`POST ${url}: ${events}/${chunks} chunks, [DONE] ${done ? 'seen' : 'missing'}`);
  return { ttfbMs: ttfbMs ?? totalMs, totalMs };
}

export const totalsOf = (timings: StreamTiming[]): number[] => timings.map(({ totalMs }) => totalMs);

/** How much slower `path` is than `base`: the ratio of their median totals, and the difference of their median TTFBs in ms. */
export function overheadOver(path: StreamTiming[], base: StreamTiming[]): { ratio: number; ttfb: number } {
  return { ratio: median(totalsOf(path)) / median(totalsOf(base)), ttfb: median(ttfbsOf(path)) - median(ttfbsOf(base)) };
}
export const ttfbsOf = (timings: StreamTiming[]): number[] => timings.map(({ ttfbMs }) => ttfbMs);

export const ms = (value: number): string => value.toFixed(2);

/** A table row of sequential streams: label, TTFB median, total median, min and max, in ms. */
export function timingRow(label: string, timings: StreamTiming[]): string[] {
  const totals = totalsOf(timings);
  return [label, ms(median(ttfbsOf(timings))), ms(median(totals)), ms(Math.min(...totals)), ms(Math.max(...totals))];
}
