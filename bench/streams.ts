import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Agent, Dispatcher, request } from 'undici';
import { chunkText, startModelServer } from '../test/helpers/model-server';
import { median } from './api';
import { ChildServers, startInChild } from './child';
import { Figure } from './scenario';

/** The functions a child process can start, by name (exported below, so that the child finds them in this module). */
type ChildEntry = 'modelServerInChild' | 'bareProxyInChild';

const startHere = (entry: ChildEntry, options: unknown) => startInChild(__filename, entry, options);

/** Runs in the child: the test helper's model server, no delay between chunks. */
export async function modelServerInChild({ chunks }: { chunks: number }): Promise<ChildServers> {
  const model = await startModelServer({ chunks, delayMs: 0 });
  return { urls: [model.url], requestCount: () => model.requests.length };
}

export interface ModelProcess {
  url: string;
  port: number;
  /** Completion requests the model server has received so far. */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A model server streaming `chunks` chunks per completion, in a process of its own: in the bench's own thread its
 * synchronous write loop would keep the client from reading until the whole stream was written, so "first byte"
 * would mean "last chunk written".
 */
export async function startModelProcess(chunks: number): Promise<ModelProcess> {
  const {
    urls: [url],
    requests,
    stop,
  } = await startHere('modelServerInChild', { chunks });
  return { url, port: Number(new URL(url).port), requests, stop };
}

/** Runs in the child: a bare reverse proxy per upstream, all sharing one keep-alive undici Agent (TCP_NODELAY by default). */
export async function bareProxyInChild({ upstreams }: { upstreams: string[] }): Promise<ChildServers> {
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

export interface BareProxyProcess {
  /** The proxy's URL for each upstream, in the order given. */
  urls: string[];
  /** Requests the proxies have received so far. */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Bare reverse proxies written the most direct way, in a process of their own (as the backend has): a `node:http`
 * server (noDelay) per upstream that forwards the request body with `undici.request` and passes the upstream's status,
 * content-type and body chunks, with back-pressure, to its client.
 */
export function startBareProxyProcess(upstreams: string[]): Promise<BareProxyProcess> {
  return startHere('bareProxyInChild', { upstreams });
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

/** How much slower one path is than another: the ratio of their median totals, the difference of their median TTFBs in ms. */
export interface Overhead {
  ratio: number;
  ttfb: number;
}

export function overheadOver(path: StreamTiming[], base: StreamTiming[]): Overhead {
  return { ratio: median(totalsOf(path)) / median(totalsOf(base)), ttfb: median(ttfbsOf(path)) - median(ttfbsOf(base)) };
}
export const ttfbsOf = (timings: StreamTiming[]): number[] => timings.map(({ ttfbMs }) => ttfbMs);

/** For the summary: what the bare proxy costs over the direct stream (the floor), and what `path` costs over the bare proxy. */
export function bareProxyFigures(scenario: string, path: string, bareVsDirect: Overhead, pathVsBare: Overhead): Figure[] {
  return [
    { measure: `${scenario} bare proxy / direct total (floor reference)`, value: bareVsDirect.ratio, unit: 'x' },
    { measure: `${scenario} TTFB overhead bare proxy - direct (floor reference)`, value: bareVsDirect.ttfb, unit: 'ms' },
    { measure: `${scenario} ${path} / bare proxy total`, value: pathVsBare.ratio, unit: 'x' },
    { measure: `${scenario} TTFB overhead ${path} - bare proxy`, value: pathVsBare.ttfb, unit: 'ms' },
  ];
}

export const ms = (value: number): string => value.toFixed(2);

/** A table row of sequential streams: label, TTFB median, total median, min and max, in ms. */
export function timingRow(label: string, timings: StreamTiming[]): string[] {
  const totals = totalsOf(timings);
  return [label, ms(median(ttfbsOf(timings))), ms(median(totals)), ms(Math.min(...totals)), ms(Math.max(...totals))];
}
