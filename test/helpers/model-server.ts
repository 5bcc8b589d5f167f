import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

/**
 * The modes apply to every POST endpoint; hang applies to the model list too.
 * ok: answer normally. hang: accept and never answer.
 * fail-mid-stream: send half the chunks (half the JSON body when not streaming), then destroy the socket.
 * hang-mid-stream: send that half, then stall until the client or stop() closes the socket.
 * hang-after-done: stream the whole answer and `data: [DONE]`, then hold the body open (no end) the same way.
 * The others give the same fixed answer to streamed and non-streamed requests alike (see CANNED_ANSWERS):
 * error: 500 `{error:{message:'model exploded'}}`. redirect: 302 to `/login`. no-content: 204.
 * unauthorized: 401 with an OpenAI error. forbidden: 403 with nginx's HTML page. not-found: 404 `{detail:'Not Found'}`.
 * bad-request: 400 with BAD_TEMPERATURE. unprocessable: 422 with UNPROCESSABLE_TEXT. html: 200 with HTML_PAGE.
 * invalid-json: 200 `application/json` with INVALID_JSON. huge-error: 400 with a 1 MB OpenAI error (HUGE_ERROR_BYTES).
 */
export type ModelMode = 'ok' | 'fail-mid-stream' | 'hang' | 'hang-mid-stream' | 'hang-after-done' | CannedMode;

type CannedMode =
  | 'error'
  | 'redirect'
  | 'no-content'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'bad-request'
  | 'unprocessable'
  | 'html'
  | 'invalid-json'
  | 'huge-error';

/** The 400 body of bad-request mode: an OpenAI error whose `type` and `code` a proxy should keep. */
export const BAD_TEMPERATURE = { error: { message: 'bad temperature', type: 'invalid_request_error', code: 'invalid_temperature' } };
/** The 422 body of unprocessable mode: plain text with control characters. */
export const UNPROCESSABLE_TEXT = 'invalid request:\r\n\ttemperature=7\u0007 is out of range [0, 2]\n';
/** The 200 body of html mode: a gateway's sign-in page, with markup, a style, a script and a comment. */
export const HTML_PAGE =
  '<!DOCTYPE html><html><head><title>Sign in</title><style>body { color: red }</style><script>window.location = "/login"</script></head>' +
  '<body><!-- gateway --><h1>Please sign in</h1>\n<p>Your session has expired.</p></body></html>';
/** The 200 body of invalid-json mode. */
export const INVALID_JSON = '{"choices": [oops]}';
/** The size of huge-error mode's body. */
export const HUGE_ERROR_BYTES = 1024 * 1024;

interface CannedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const NGINX_403 =
  '<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** The answer of each canned mode; `host` is the request's Host header. Built on use: huge-error's body is 1 MB. */
const CANNED_ANSWERS: Record<CannedMode, (host: string) => CannedAnswer> = {
  error: () => ({ status: 500, headers: JSON_TYPE, body: JSON.stringify({ error: { message: 'model exploded' } }) }),
  redirect: (host) => ({
    status: 302,
    headers: { location: `http://${host}/login`, 'content-type': 'text/plain' },
    body: 'Found. Redirecting to /login',
  }),
  'no-content': () => ({ status: 204, headers: {}, body: '' }),
  unauthorized: () => ({
    status: 401,
    headers: JSON_TYPE,
    body: JSON.stringify({ error: { message: 'Invalid API key', type: 'invalid_request_error', code: 'invalid_api_key' } }),
  }),
  forbidden: () => ({ status: 403, headers: { 'content-type': 'text/html' }, body: NGINX_403 }),
  'not-found': () => ({ status: 404, headers: JSON_TYPE, body: JSON.stringify({ detail: 'Not Found' }) }),
  'bad-request': () => ({ status: 400, headers: JSON_TYPE, body: JSON.stringify(BAD_TEMPERATURE) }),
  unprocessable: () => ({ status: 422, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: UNPROCESSABLE_TEXT }),
  html: () => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: HTML_PAGE }),
  'invalid-json': () => ({ status: 200, headers: JSON_TYPE, body: INVALID_JSON }),
  'huge-error': () => {
    const frame = 'Traceback: frame; ';
    const room = HUGE_ERROR_BYTES - JSON.stringify({ error: { message: '', type: 'server_error', code: 'huge' } }).length;
    const message = frame.repeat(Math.ceil(room / frame.length)).slice(0, room);
    return { status: 400, headers: JSON_TYPE, body: JSON.stringify({ error: { message, type: 'server_error', code: 'huge' } }) };
  },
};

/**
 * Where the server answers: `both` (default) at `/v1/<endpoint>` and at `/<endpoint>`; `v1` only under `/v1`, as vLLM,
 * SGLang, LMDeploy and Ollama do; `legacy` only at the root, as older servers do. Anything else is a 404.
 */
export type ModelServerPaths = 'both' | 'v1' | 'legacy';

/** The POST endpoints served, by their path without `/v1`. */
const POST_ENDPOINTS = ['/chat/completions', '/completions', '/embeddings'] as const;
type PostEndpoint = (typeof POST_ENDPOINTS)[number];

/** `created` of the models listed, in Unix seconds. */
export const MODEL_CREATED = 1_700_000_000;

export interface ModelServerOptions {
  /** Chunks per completion; default 5. */
  chunks?: number;
  /** Pause between streamed chunks; default 0 (then chunks are written back to back, paced only by back-pressure). */
  delayMs?: number;
  /** Streams the first chunk, then holds the rest until this settles: a test can see where the first one got to meanwhile. */
  restOfStreamHeldUntil?: Promise<unknown>;
  /** Stream bare JSON lines (`{...}\n`, no `data: ` prefix, no `[DONE]`), as some servers do, to test normalisation. */
  rawLines?: boolean;
  /** Where the endpoints are served; default `both`. */
  paths?: ModelServerPaths;
  /**
   * The models `GET /v1/models` (and `/models`, as `paths` allows) lists: an id gets a full entry (`created`
   * MODEL_CREATED, `owned_by` `test-server`, and vLLM's `max_model_len`), an object is listed as it is. Without it,
   * the models routes are 404.
   */
  models?: Array<string | Record<string, unknown>>;
}

export interface TestModelServer {
  readonly port: number;
  /** Base URL, e.g. `http://127.0.0.1:41234`; chat completions are served at `${url}/v1/chat/completions` and `${url}/chat/completions`. */
  readonly url: string;
  /** Every request body to a served POST endpoint, parsed (the raw text if it was not JSON), in arrival order. */
  readonly requests: unknown[];
  /** The headers of each entry of `requests`, same index. */
  readonly headers: IncomingHttpHeaders[];
  /** `<METHOD> <path>` of every request, served or not, in arrival order. */
  readonly hits: string[];
  /** Applies to requests that arrive afterwards. */
  setMode(mode: ModelMode): void;
  /** Applies to requests that arrive afterwards: the same server, re-deployed. */
  setPaths(paths: ModelServerPaths): void;
  /**
   * Resolves on a client closing its connection before its response ended (streaming or hung alike),
   * i.e. the proxy aborted its upstream request. Each call consumes one such event, whether it happened
   * before or after the call, so a test cannot miss one by calling late. Resolves with the request's number
   * (1 for the first request the server received), so a test knows which request it was.
   */
  clientDisconnected(): Promise<number>;
  /** Open TCP connections, idle keep-alive ones included. */
  openConnections(): number;
  /** Destroys every socket (hung ones included) and closes the server. Idempotent. */
  stop(): Promise<void>;
}

/** The text of chunk `i`; a completion's content is chunks 0..n-1 concatenated. */
export const chunkText = (i: number): string => `tok${i} `;

/** The full content of an n-chunk completion. */
export const completionText = (chunks: number): string => Array.from({ length: chunks }, (_, i) => chunkText(i)).join('');

/** The embedding of `text`: three numbers, exact in float32 as in JSON, so a base64 answer decodes to the same. */
export const embeddingOf = (text: string): number[] => [text.length, 0.5, -2];

/**
 * An OpenAI-compatible model server: chat completions, completions (both streaming SSE and not), embeddings (floats or
 * base64) and, when given `models`, the model list; with fault injection.
 */
export async function startModelServer(options: ModelServerOptions = {}): Promise<TestModelServer> {
  const chunks = options.chunks ?? 5;
  const delayMs = options.delayMs ?? 0;
  const rawLines = options.rawLines ?? false;
  const models = options.models?.map((model) =>
    typeof model === 'string' ? { id: model, object: 'model', created: MODEL_CREATED, owned_by: 'test-server', max_model_len: 4096 } : model,
  );
  const requests: unknown[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const hits: string[] = [];
  const sockets = new Set<Socket>();
  let mode: ModelMode = 'ok';
  let paths: ModelServerPaths = options.paths ?? 'both';
  let stopping = false;
  let completionId = 0;
  let received = 0;
  // Unconsumed disconnects (request numbers) and callers still waiting for one; at most one of the two is non-empty.
  const pendingDisconnects: number[] = [];
  const waiters: Array<(request: number) => void> = [];

  const noteDisconnect = (request: number) => {
    const waiter = waiters.shift();
    if (waiter) waiter(request);
    else pendingDisconnects.push(request);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let closedByServer = false;
    const requestNumber = ++received;
    res.on('close', () => {
      if (!res.writableEnded && !closedByServer && !stopping) noteDisconnect(requestNumber);
    });
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://model').pathname;
    hits.push(`${req.method} ${path}`);
    const endpoint = servedEndpoint(path, paths);
    if (req.method === 'GET' && endpoint === '/models' && models) {
      if (mode !== 'hang') sendJson(res, 200, { object: 'list', data: models });
      return;
    }
    if (req.method !== 'POST' || !isPostEndpoint(endpoint)) {
      return sendJson(res, 404, { error: { message: `No route for ${req.method} ${req.url}` } });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      requests.push(raw);
      headers.push(req.headers);
      return sendJson(res, 400, { error: { message: 'Malformed JSON body' } });
    }
    requests.push(body);
    headers.push(req.headers);
    const request = body as {
      model?: unknown;
      messages?: unknown;
      prompt?: unknown;
      input?: unknown;
      stream?: unknown;
      stream_options?: unknown;
      encoding_format?: unknown;
    } | null;
    if (request === null || typeof request !== 'object') return sendJson(res, 400, { error: { message: 'The body must be a JSON object' } });
    const problem = requestProblem(endpoint, request);
    if (problem) return sendJson(res, 400, { error: { message: problem } });

    const current = mode;
    if (current === 'hang') return;
    if (Object.hasOwn(CANNED_ANSWERS, current)) {
      const { status, headers: answerHeaders, body: answer } = CANNED_ANSWERS[current as CannedMode](req.headers.host ?? '');
      // A 204 must not carry a Content-Length.
      const length = status === 204 ? {} : { 'content-length': Buffer.byteLength(answer) };
      res.writeHead(status, { ...answerHeaders, ...length }).end(answer);
      return;
    }
    const model = typeof request.model === 'string' ? request.model : '';
    const chat = endpoint === '/chat/completions';
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${++completionId}`;
    const created = Math.floor(Date.now() / 1000);
    const midStream = current === 'fail-mid-stream' || current === 'hang-mid-stream';

    if (request.stream === true && endpoint !== '/embeddings') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      // Built once per request: the chunks differ only in their text and the last one's finish_reason.
      const identity = `{"id":"${id}","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}","created":${created},"model":${JSON.stringify(model)}`;
      const head = `${rawLines ? '' : 'data: '}${identity},"choices":[{"index":0,${chat ? '"delta":{"content":"' : '"text":"'}`;
      const afterText = chat ? '"}' : '"';
      const tail = rawLines ? '\n' : '\n\n';
      const count = midStream ? Math.floor(chunks / 2) : chunks;
      for (let i = 0; i < count && !res.destroyed; i++) {
        if (i > 0 && delayMs > 0) await pause(res, delayMs);
        if (i === 1 && options.restOfStreamHeldUntil) await options.restOfStreamHeldUntil;
        const finish = i === chunks - 1 ? '"stop"' : 'null';
        const flushed = res.write(`${head}${chunkText(i)}${afterText},"finish_reason":${finish}}]}${tail}`);
        if (!flushed) await pause(res, 'drain');
      }
      // As vLLM and OpenAI do when asked: one more chunk, with no choices, carrying the usage of the whole answer.
      const usageAsked = (request.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
      if (!midStream && usageAsked && !res.destroyed) {
        const { usage } = answerOf(endpoint, request, { id, created, model, chunks });
        res.write(`${rawLines ? '' : 'data: '}${identity},"choices":[],"usage":${JSON.stringify(usage)}}${tail}`);
      }
      if (!midStream && !res.destroyed) {
        const done = rawLines ? undefined : 'data: [DONE]\n\n';
        if (current !== 'hang-after-done') res.end(done);
        else if (done) res.write(done);
      }
    } else {
      const json = JSON.stringify(answerOf(endpoint, request, { id, created, model, chunks }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      if (!midStream) {
        res.end(json);
        return;
      }
      res.write(json.slice(0, Math.floor(json.length / 2)));
    }
    if (current === 'fail-mid-stream' && !res.destroyed) {
      // Wait until the half is handed to the kernel, or destroy() would discard it along with the socket.
      await new Promise<void>((resolve) => res.write('', () => resolve()));
      closedByServer = true;
      res.destroy();
    }
    // hang-mid-stream, hang-after-done: leave the response open.
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    // A client that hangs up mid-body makes readBody reject; there is nobody left to answer.
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    headers,
    hits,
    setMode: (next) => {
      mode = next;
    },
    setPaths: (next) => {
      paths = next;
    },
    clientDisconnected: () => {
      const pending = pendingDisconnects.shift();
      return pending !== undefined ? Promise.resolve(pending) : new Promise<number>((resolve) => waiters.push(resolve));
    },
    openConnections: () => sockets.size,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Waits for each socket's own 'close' too, so openConnections() reads 0 once stop() resolves.
        const socketsClosed = [...sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
        for (const socket of sockets) socket.destroy();
        await Promise.all([serverClosed, ...socketsClosed]);
      })();
      return stopped;
    },
  };
}

/** Resolves after `ms`, on 'drain', or as soon as the response closes, whichever is first; leaves no listener or timer behind. */
function pause(res: ServerResponse, wait: number | 'drain'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('drain', done).off('close', done);
      resolve();
    };
    const timer = wait === 'drain' ? undefined : setTimeout(done, wait);
    if (wait === 'drain') res.on('drain', done);
    res.on('close', done);
  });
}

/** The endpoint (`/chat/completions`, `/models`, …) a path names, when `paths` serves it there. */
function servedEndpoint(path: string, paths: ModelServerPaths): string | undefined {
  const standard = path.startsWith('/v1/');
  if (standard ? paths === 'legacy' : paths === 'v1') return undefined;
  return standard ? path.slice('/v1'.length) : path;
}

function isPostEndpoint(endpoint: string | undefined): endpoint is PostEndpoint {
  return (POST_ENDPOINTS as readonly (string | undefined)[]).includes(endpoint);
}

/** Why the model server refuses a request: each endpoint's required field. */
function requestProblem(endpoint: PostEndpoint, request: { messages?: unknown; prompt?: unknown; input?: unknown }): string | undefined {
  if (endpoint === '/chat/completions') return Array.isArray(request.messages) ? undefined : '"messages" must be an array';
  const [name, value] = endpoint === '/completions' ? ['prompt', request.prompt] : ['input', request.input];
  return typeof value === 'string' || Array.isArray(value) ? undefined : `"${name}" must be a string or an array`;
}

/** The non-streamed answer of an endpoint. */
function answerOf(
  endpoint: PostEndpoint,
  request: { messages?: unknown; prompt?: unknown; input?: unknown; encoding_format?: unknown },
  { id, created, model, chunks }: { id: string; created: number; model: string; chunks: number },
): Record<string, unknown> {
  if (endpoint === '/embeddings') {
    const inputs = ([] as unknown[]).concat(request.input).map(String);
    const tokens = inputs.reduce((sum, input) => sum + words(input), 0);
    const encode = (vector: number[]) =>
      request.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return {
      object: 'list',
      data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: encode(embeddingOf(input)) })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }
  const chat = endpoint === '/chat/completions';
  const prompt = chat
    ? (request.messages as unknown[]).reduce<number>((sum, message) => sum + words((message as { content?: unknown } | null)?.content), 0)
    : ([] as unknown[]).concat(request.prompt).reduce<number>((sum, text) => sum + words(text), 0);
  const text = completionText(chunks);
  return {
    id,
    object: chat ? 'chat.completion' : 'text_completion',
    created,
    model,
    choices: [
      chat
        ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
        : { index: 0, text, logprobs: null, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: prompt, completion_tokens: chunks, total_tokens: prompt + chunks },
  };
}

/** A rough whitespace token count of a text, enough for a plausible `usage`; 0 for anything else. */
function words(text: unknown): number {
  return typeof text === 'string' ? text.split(/\s+/).filter(Boolean).length : 0;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += chunk;
  return text;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}
