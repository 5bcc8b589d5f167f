import { AddressInfo } from 'node:net';
import { closedPort } from './helpers/sshd';
import OpenAI from 'openai';
import type { Response as SupertestResponse } from 'supertest';
import {
  BAD_TEMPERATURE,
  chunkText,
  completionText,
  INVALID_JSON,
  ModelMode,
  ModelServerOptions,
  startModelServer,
  TestModelServer,
} from './helpers/model-server';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';
import { until, within } from './helpers/wait';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_ID = 987654;
/** The proxy's idle timeout in this suite (CHAT_IDLE_TIMEOUT_MS). */
const IDLE_MS = 1500;
/** The longest chat message in this suite (CHAT_MESSAGE_MAX_CHARS). */
const MAX_CHARS = 100;

const HELLO = [{ role: 'user', content: 'hello there' }];

/** Reads a body to its end or its failure, keeping what arrived before a failure. */
async function readBody(
  body: ReadableStream<Uint8Array>,
  onText?: (text: string, at: number) => void,
): Promise<{ text: string; error?: unknown; endedAt: number }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      const piece = decoder.decode(read.value, { stream: true });
      text += piece;
      onText?.(piece, Date.now());
    }
    return { text, endedAt: Date.now() };
  } catch (error) {
    return { text, error, endedAt: Date.now() };
  }
}

/** The data of each SSE event, checking every event is exactly `data: …` followed by a blank line. */
function dataEvents(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      expect(event).toMatch(/^data: /);
      expect(event).not.toContain('\n');
      return event.slice('data: '.length);
    });
}

/** `direct` with its completion id and timestamp replaced by those of `proxied`: two completions differ in nothing else. */
function withIdentityOf(direct: string, proxied: string): string {
  const id = (text: string) => /"id":"(chatcmpl-\d+)"/.exec(text)![1];
  const created = (text: string) => /"created":(\d+)/.exec(text)![1];
  return direct
    .split(`"id":"${id(direct)}"`)
    .join(`"id":"${id(proxied)}"`)
    .split(`"created":${created(direct)},`)
    .join(`"created":${created(proxied)},`);
}

const contentOf = (data: string): string => JSON.parse(data).choices[0].delta.content;

describe('chat', () => {
  let t: TestApp;
  let base: string;
  let model: TestModelServer;
  let modelId: number;
  /** A service whose one server's model server is `model`. */
  let serviceId: number;
  const extraModels: TestModelServer[] = [];

  const createServer = async (chatPort: number, name = `gpu-${chatPort}`): Promise<number> =>
    (await t.http.post('/api/servers').send({ name, host_ip: '127.0.0.1', username: 'u', agent_port: 8888, chat_port: chatPort }).expect(201)).body
      .id;
  const createService = async (serverIds: number[], name = 'svc'): Promise<number> =>
    (await t.http.post('/api/services').send({ name, model_id: modelId, server_ids: serverIds }).expect(201)).body.id;
  /** A model server of its own, stopped with the suite. */
  const newModel = async (options: ModelServerOptions = {}): Promise<TestModelServer> => {
    const created = await startModelServer(options);
    extraModels.push(created);
    return created;
  };
  /** A service on one new server whose model server is `upstream`. */
  const serviceOn = async (upstream: TestModelServer): Promise<number> => createService([await createServer(upstream.port)]);

  const complete = (id: number, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${base}/api/services/${id}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify(body),
      signal,
    });
  const direct = (upstream: TestModelServer, body: Record<string, unknown>) =>
    fetch(`${upstream.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    t = await startTestApp({ CHAT_IDLE_TIMEOUT_MS: String(IDLE_MS), CHAT_MESSAGE_MAX_CHARS: String(MAX_CHARS) });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    model = await startModelServer();
    modelId = (await t.http.post('/api/models').send({ name: 'jiuge' }).expect(201)).body.id;
    serviceId = await serviceOn(model);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([model, ...extraModels].map((server) => server?.stop()));
  });
  afterEach(() => model.setMode('ok'));

  describe('history', () => {
    let id: number;
    beforeEach(async () => {
      id = await createService([], 'history');
    });
    const history = async (serviceId: number) => (await t.http.get(`/api/services/${serviceId}/chat`).expect(200)).body;

    it('stores messages (201 {id, message}) and lists them oldest first', async () => {
      const ids: number[] = [];
      for (const [role, content] of [
        ['system', 'You are helpful.'],
        ['user', '你好'],
        ['assistant', 'Hello! How can I help?'],
      ]) {
        const res = await t.http.post(`/api/services/${id}/chat`).send({ role, content }).expect(201);
        expect(res.body).toEqual({ id: expect.any(Number), message: expect.any(String) });
        ids.push(res.body.id);
      }
      const listed = await history(id);
      expect(listed).toEqual([
        { id: ids[0], service_id: id, role: 'system', content: 'You are helpful.', created_at: expect.stringMatching(ISO_UTC) },
        { id: ids[1], service_id: id, role: 'user', content: '你好', created_at: expect.stringMatching(ISO_UTC) },
        { id: ids[2], service_id: id, role: 'assistant', content: 'Hello! How can I help?', created_at: expect.stringMatching(ISO_UTC) },
      ]);
      expect(await history(await createService([], 'empty'))).toEqual([]);
    });

    it('orders by created_at, then by id', async () => {
      const insert = (content: string, createdAt: string) =>
        t.sql(
          `INSERT INTO chat_history (service_id, role, content, created_at) VALUES (${placeholder(1)}, ${placeholder(2)}, ${placeholder(3)}, ${placeholder(4)})`,
          [id, 'user', content, createdAt],
        );
      await insert('third', '2026-01-03 00:00:00.000');
      await insert('first', '2026-01-01 00:00:00.000');
      await insert('second-a', '2026-01-02 00:00:00.000');
      await insert('second-b', '2026-01-02 00:00:00.000');
      const listed = await history(id);
      expect(listed.map((message: { content: string }) => message.content)).toEqual(['first', 'second-a', 'second-b', 'third']);
      expect(listed[0].created_at).toBe('2026-01-01T00:00:00.000Z');
    });

    it('accepts only the roles system, user and assistant', async () => {
      for (const body of [
        { role: 'tool', content: 'x' },
        { role: 'USER', content: 'x' },
        { role: '', content: 'x' },
        { role: 7, content: 'x' },
        { content: 'x' },
      ]) {
        const res = await t.http.post(`/api/services/${id}/chat`).send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'role' })]));
      }
      const extra = await t.http.post(`/api/services/${id}/chat`).send({ role: 'user', content: 'x', mood: 'happy' }).expect(400);
      expect(extra.body.error).toContain('mood');
      expect(await history(id)).toEqual([]);
    });

    it('refuses empty, blank, missing and non-string content', async () => {
      for (const content of ['', '   ', '\n\t', undefined, null, 42, ['a']]) {
        const res = await t.http.post(`/api/services/${id}/chat`).send({ role: 'user', content });
        expect({ content, status: res.status }).toEqual({ content, status: 400 });
        expect(JSON.stringify(res.body.details ?? res.body.error)).toContain('content');
      }
      expect(await history(id)).toEqual([]);
    });

    it(`refuses content longer than CHAT_MESSAGE_MAX_CHARS (${MAX_CHARS})`, async () => {
      await t.http
        .post(`/api/services/${id}/chat`)
        .send({ role: 'user', content: 'x'.repeat(MAX_CHARS) })
        .expect(201);
      const tooLong = await t.http
        .post(`/api/services/${id}/chat`)
        .send({ role: 'user', content: 'y'.repeat(MAX_CHARS + 1) })
        .expect(400);
      expect(tooLong.body.error).toContain(String(MAX_CHARS));
      expect((await history(id)).map((message: { content: string }) => message.content)).toEqual(['x'.repeat(MAX_CHARS)]);
    });

    it('DELETE clears the history of that service only', async () => {
      const other = await createService([], 'other');
      await t.http.post(`/api/services/${id}/chat`).send({ role: 'user', content: 'one' }).expect(201);
      await t.http.post(`/api/services/${id}/chat`).send({ role: 'assistant', content: 'two' }).expect(201);
      await t.http.post(`/api/services/${other}/chat`).send({ role: 'user', content: 'kept' }).expect(201);
      const cleared = await t.http.delete(`/api/services/${id}/chat`).expect(200);
      expect(cleared.body).toEqual({ message: expect.any(String) });
      expect(await history(id)).toEqual([]);
      expect((await history(other)).map((message: { content: string }) => message.content)).toEqual(['kept']);
      // Clearing an empty history is fine too.
      await t.http.delete(`/api/services/${id}/chat`).expect(200);
    });

    it('answers 404 for an unknown service', async () => {
      for (const res of [
        await t.http.get(`/api/services/${UNKNOWN_ID}/chat`),
        await t.http.post(`/api/services/${UNKNOWN_ID}/chat`).send({ role: 'user', content: 'hi' }),
        await t.http.delete(`/api/services/${UNKNOWN_ID}/chat`),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body.error).toContain(String(UNKNOWN_ID));
      }
      const rows = await t.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM chat_history WHERE service_id = ${placeholder(1)}`, [UNKNOWN_ID]);
      expect(Number(rows[0].n)).toBe(0);
    });
  });

  describe('completions: requests and errors', () => {
    it("answers 404 for an unknown service and 400 for a service without servers, in OpenAI's error shape", async () => {
      const unknown = await t.http.post(`/api/services/${UNKNOWN_ID}/chat/completions`).send({ messages: HELLO }).expect(404);
      expect(unknown.body).toEqual({
        error: { message: `Service ${UNKNOWN_ID} not found`, type: 'invalid_request_error', code: 'service_not_found', param: null },
      });
      const empty = await createService([], 'no-servers');
      const noServers = await t.http.post(`/api/services/${empty}/chat/completions`).send({ messages: HELLO }).expect(400);
      expect(noServers.body).toEqual({
        error: { message: 'No servers associated with this service', type: 'invalid_request_error', code: 'no_servers', param: null },
      });
    });

    it('refuses a request without messages, or with malformed ones, before calling the model server, naming the field in param', async () => {
      const before = model.requests.length;
      const cases: Array<[unknown, string | null, string]> = [
        [{}, 'messages', 'missing_required_parameter'],
        [{ messages: null }, 'messages', 'missing_required_parameter'],
        [{ messages: [] }, 'messages', 'empty_array'],
        [{ messages: 'hello' }, 'messages', 'invalid_type'],
        [{ messages: [{ content: 'no role' }] }, 'messages.0.role', 'missing_required_parameter'],
        [{ messages: [...HELLO, { role: 7, content: 'x' }] }, 'messages.1.role', 'invalid_type'],
        [{ messages: [null] }, 'messages.0', 'invalid_type'],
        [{ messages: HELLO, stream: 'yes' }, 'stream', 'invalid_type'],
        [{ messages: HELLO, model: 5 }, 'model', 'invalid_type'],
        [[HELLO], null, 'invalid_type'],
      ];
      for (const [body, param, code] of cases) {
        const res = await t.http.post(`/api/services/${serviceId}/chat/completions`).send(body as object);
        expect({ body, status: res.status, error: res.body.error }).toEqual({
          body,
          status: 400,
          error: { message: expect.any(String), type: 'invalid_request_error', code, param },
        });
      }
      expect((await t.http.post(`/api/services/${serviceId}/chat/completions`).send({}).expect(400)).body.error.message).toBe(
        "Missing required parameter: 'messages'",
      );
      // Malformed JSON is refused before routing, in the house shape.
      const malformed = await t.http
        .post(`/api/services/${serviceId}/chat/completions`)
        .set('content-type', 'application/json')
        .send('{"messages":')
        .expect(400);
      expect(malformed.body.error).toMatch(/JSON/);
      expect(model.requests.length).toBe(before);
    });

    it('defaults model to jiuge and passes other fields through to the model server', async () => {
      const res = await t.http
        .post(`/api/services/${serviceId}/chat/completions`)
        .send({ messages: HELLO, top_k: 7, temperature: 0.5, repetition_penalty: 1.1, max_tokens: 64 })
        .expect(200);
      expect(model.requests.at(-1)).toEqual({ messages: HELLO, top_k: 7, temperature: 0.5, repetition_penalty: 1.1, max_tokens: 64, model: 'jiuge' });
      expect(res.body.model).toBe('jiuge');

      await t.http.post(`/api/services/${serviceId}/chat/completions`).send({ messages: HELLO, model: 'qwen-72b', top_p: 0.9 }).expect(200);
      expect(model.requests.at(-1)).toEqual({ messages: HELLO, model: 'qwen-72b', top_p: 0.9 });
    });

    it("answers a non-streamed completion with the model server's JSON as it is", async () => {
      const expected = await (await direct(model, { model: 'jiuge', messages: HELLO })).text();
      const res = await complete(serviceId, { messages: HELLO });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await res.text();
      expect(text).toBe(withIdentityOf(expected, text));
      expect(JSON.parse(text)).toEqual({
        id: expect.stringMatching(/^chatcmpl-\d+$/),
        object: 'chat.completion',
        created: expect.any(Number),
        model: 'jiuge',
        choices: [{ index: 0, message: { role: 'assistant', content: completionText(5) }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 },
      });
    });

    it('answers 502 "Connection failed" when no model server accepts the connection', async () => {
      const [first, second] = [await closedPort(), await closedPort()];
      const id = await createService([await createServer(first), await createServer(second)], 'all-down');
      const res = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO }).expect(502);
      expect(res.body).toEqual({
        error: {
          message: `Connection failed: connection refused by 127.0.0.1:${first}, 127.0.0.1:${second}`,
          type: 'upstream_error',
          code: 'upstream_unreachable',
          param: null,
        },
      });
      // The same for a stream: nothing has been sent yet, so it is a plain error answer.
      const streamed = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO, stream: true }).expect(502);
      expect(streamed.body).toEqual(res.body);
    });

    it('tries the next server when the first refuses the connection', async () => {
      const second = await newModel({ chunks: 3 });
      const id = await createService([await createServer(await closedPort(), 'refusing'), await createServer(second.port, 'working')], 'failover');
      const res = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO }).expect(200);
      expect(res.body.choices[0].message.content).toBe(completionText(3));
      expect(second.requests).toEqual([{ messages: HELLO, model: 'jiuge' }]);

      const streamed = await complete(id, { messages: HELLO, stream: true });
      expect(streamed.status).toBe(200);
      const events = dataEvents((await readBody(streamed.body!)).text);
      expect(events.slice(0, -1).map(contentOf).join('')).toBe(completionText(3));
      expect(second.requests).toHaveLength(2);
    });

    it(`answers 504 when the model server does not answer within CHAT_IDLE_TIMEOUT_MS (${IDLE_MS} ms), and closes the upstream`, async () => {
      const silent = await newModel();
      silent.setMode('hang');
      const id = await serviceOn(silent);
      const started = Date.now();
      const res = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.body).toEqual({
        error: {
          message: `Model server 127.0.0.1:${silent.port} did not answer in time`,
          type: 'upstream_error',
          code: 'upstream_timeout',
          param: null,
        },
      });
      expect(elapsed).toBeGreaterThanOrEqual(IDLE_MS - 100);
      expect(elapsed).toBeLessThan(IDLE_MS + 2500);
      await within(silent.clientDisconnected(), 2000, 'the proxy to close the hung upstream request');
    });

    it('answers 502 when a non-streamed answer is cut short by the model server', async () => {
      const breaking = await newModel();
      breaking.setMode('fail-mid-stream');
      const id = await serviceOn(breaking);
      const res = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO });
      expect({ status: res.status, error: res.body.error }).toEqual({
        status: 502,
        error: {
          message: expect.stringContaining(`Connection failed: 127.0.0.1:${breaking.port}: `),
          type: 'upstream_error',
          code: 'upstream_disconnected',
          param: null,
        },
      });
    });

    it('answers 504 when a non-streamed answer stalls after its headers for CHAT_IDLE_TIMEOUT_MS', async () => {
      const stalling = await newModel();
      stalling.setMode('hang-mid-stream');
      const id = await serviceOn(stalling);
      const started = Date.now();
      const res = await t.http.post(`/api/services/${id}/chat/completions`).send({ messages: HELLO });
      expect(Date.now() - started).toBeLessThan(IDLE_MS + 2500);
      expect({ status: res.status, error: res.body.error }).toEqual({
        status: 504,
        error: { message: `Model server 127.0.0.1:${stalling.port} stopped sending`, type: 'upstream_error', code: 'upstream_timeout', param: null },
      });
    });
  });

  describe('completions: upstream answers', () => {
    const address = () => `127.0.0.1:${model.port}`;
    const ask = (stream: boolean) => t.http.post(`/api/services/${serviceId}/chat/completions`).send({ messages: HELLO, stream });
    /** The plain JSON answer an upstream error gets, streamed or not: OpenAI-shaped, its message free of markup and control characters. */
    const expectUpstreamError = (res: SupertestResponse, status: number, code: string, message: string) => {
      expect({ status: res.status, body: res.body }).toEqual({ status, body: { error: { message, type: 'upstream_error', code, param: null } } });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(message).not.toMatch(/[\u0000-\u001f\u007f<>]/);
    };

    it('passes a 4xx with an OpenAI error body on with its status and that body as it is', async () => {
      model.setMode('bad-request');
      for (const stream of [false, true]) {
        const res = await ask(stream);
        expect({ stream, status: res.status, body: res.body }).toEqual({ stream, status: 400, body: BAD_TEMPERATURE });
        expect(res.headers['content-type']).toMatch(/^application\/json/);
      }
    });

    it('wraps a 4xx without an OpenAI error body in one of the same status, quoting a sanitised excerpt', async () => {
      model.setMode('unprocessable');
      for (const stream of [false, true]) {
        const res = await ask(stream);
        // UNPROCESSABLE_TEXT with its CR, LF, tab and BEL collapsed to single spaces.
        const message = `Model server ${address()} answered 422 Unprocessable Entity: invalid request: temperature=7 is out of range [0, 2]`;
        expectUpstreamError(res, 422, 'upstream_status_422', message);
      }
    });

    it("answers 502 to a 401, 403 or 404 of the model server, which are not the caller's credentials or route failing", async () => {
      const cases: Array<[ModelMode, number, string]> = [
        ['unauthorized', 401, 'Unauthorized: Invalid API key'],
        ['forbidden', 403, 'Forbidden: 403 Forbidden 403 Forbidden nginx'],
        // A 404 at the standard path is asked again at the legacy one: both are named.
        ['not-found', 404, 'Not Found at /v1/chat/completions and /chat/completions: {"detail":"Not Found"}'],
      ];
      for (const [mode, status, answer] of cases) {
        model.setMode(mode);
        for (const stream of [false, true]) {
          expectUpstreamError(await ask(stream), 502, `upstream_status_${status}`, `Model server ${address()} answered ${status} ${answer}`);
        }
      }
    });

    it('answers 502 to a redirect, without its Location', async () => {
      model.setMode('redirect');
      for (const stream of [false, true]) {
        const res = await ask(stream);
        const message = `Model server ${address()} answered 302 Found (redirecting to http://${address()}/login): Found. Redirecting to /login`;
        expectUpstreamError(res, 502, 'upstream_status_302', message);
        expect(res.headers.location).toBeUndefined();
      }
    });

    it('answers 502 to a 5xx, quoting the message of its OpenAI error', async () => {
      model.setMode('error');
      for (const stream of [false, true]) {
        expectUpstreamError(
          await ask(stream),
          502,
          'upstream_status_500',
          `Model server ${address()} answered 500 Internal Server Error: model exploded`,
        );
      }
    });

    it('answers 502 to a 204 and to a 200 whose body is empty or not JSON', async () => {
      model.setMode('no-content');
      for (const stream of [false, true]) {
        expectUpstreamError(await ask(stream), 502, 'upstream_invalid_body', `Model server ${address()} answered 204 No Content with an empty body`);
      }
      model.setMode('html');
      // HTML_PAGE without its markup, style, script and comment.
      const page = 'Sign in Please sign in Your session has expired.';
      expectUpstreamError(
        await ask(false),
        502,
        'upstream_invalid_body',
        `Model server ${address()} answered 200 OK with a body that is not JSON: ${page}`,
      );
      const streamed = await ask(true);
      expectUpstreamError(
        streamed,
        502,
        'upstream_invalid_body',
        `Model server ${address()} answered 200 OK with text/html instead of an event stream: ${page}`,
      );

      model.setMode('invalid-json');
      expectUpstreamError(
        await ask(false),
        502,
        'upstream_invalid_body',
        `Model server ${address()} answered 200 OK with a body that is not JSON: ${INVALID_JSON}`,
      );
      // Streamed, a JSON answer is relayed line by line as it arrives: the relay does not hold a stream back to validate it.
      const relayed = await complete(serviceId, { messages: HELLO, stream: true });
      expect(relayed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(dataEvents((await readBody(relayed.body!)).text)).toEqual([INVALID_JSON, '[DONE]']);
    });

    it('quotes at most 200 characters of a huge error body, and does not relay it', async () => {
      model.setMode('huge-error');
      for (const stream of [false, true]) {
        const res = await ask(stream);
        expect(res.status).toBe(400);
        expect(res.body.error).toEqual({ message: expect.any(String), type: 'upstream_error', code: 'upstream_status_400', param: null });
        const prefix = `Model server ${address()} answered 400 Bad Request: `;
        const { message } = res.body.error as { message: string };
        expect(message.startsWith(`${prefix}{"error":{"message":"Traceback: frame; Traceback: frame;`)).toBe(true);
        expect(message.endsWith('…')).toBe(true);
        expect(Array.from(message.slice(prefix.length))).toHaveLength(200);
        expect(Number(res.headers['content-length'])).toBeLessThan(1000);
      }
    });
  });

  describe('completions: streaming', () => {
    it('relays every event exactly as the model server sent it, with the SSE headers, ending with [DONE]', async () => {
      const big = await newModel({ chunks: 40 });
      const id = await serviceOn(big);
      const expected = (await readBody((await direct(big, { model: 'jiuge', messages: HELLO, stream: true })).body!)).text;

      const res = await complete(id, { messages: HELLO, stream: true });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const { text, error } = await readBody(res.body!);
      expect(error).toBeUndefined();

      const events = dataEvents(text);
      expect(events).toEqual(dataEvents(withIdentityOf(expected, text)));
      expect(events).toHaveLength(41);
      expect(events.at(-1)).toBe('[DONE]');
      expect(events.slice(0, -1).map(contentOf).join('')).toBe(completionText(40));
      expect(text).toBe(withIdentityOf(expected, text));
    });

    it('normalises bare JSON lines to data: events and adds [DONE]', async () => {
      const raw = await newModel({ chunks: 3, rawLines: true });
      const id = await serviceOn(raw);
      const upstream = (await readBody((await direct(raw, { model: 'jiuge', messages: HELLO, stream: true })).body!)).text;
      const upstreamLines = upstream.split('\n').slice(0, -1);
      expect(upstreamLines).toHaveLength(3);

      const res = await complete(id, { messages: HELLO, stream: true });
      const { text } = await readBody(res.body!);
      const expected = `${upstreamLines.map((line) => `data: ${line}\n\n`).join('')}data: [DONE]\n\n`;
      expect(text).toBe(withIdentityOf(expected, text));
      expect(dataEvents(text).slice(0, -1).map(contentOf)).toEqual([chunkText(0), chunkText(1), chunkText(2)]);
    });

    it('passes each chunk on as soon as it is produced', async () => {
      let sendTheRest!: () => void;
      const restHeld = new Promise<void>((resolve) => (sendTheRest = resolve));
      const holding = await newModel({ chunks: 5, restOfStreamHeldUntil: restHeld });
      const id = await serviceOn(holding);
      const res = await complete(id, { messages: HELLO, stream: true });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      // The model server sends the other chunks only once the first has reached the client: a proxy that waited for
      // more (or for the end) before passing it on would never deliver it.
      let firstPart = '';
      while (!firstPart.includes(chunkText(0))) {
        const read = await within(reader.read(), 5000, 'the first chunk to reach the client while the model server holds the rest');
        if (read.done) break;
        firstPart += decoder.decode(read.value, { stream: true });
      }
      expect(firstPart).toContain(chunkText(0));
      expect(firstPart).not.toContain(chunkText(1));
      sendTheRest();
      let text = firstPart;
      for (let read = await reader.read(); !read.done; read = await reader.read()) text += decoder.decode(read.value, { stream: true });
      expect(dataEvents(text).slice(0, -1).map(contentOf).join('')).toBe(completionText(5));
    });

    it('aborts the upstream request when the client goes away', async () => {
      const long = await newModel({ chunks: 200, delayMs: 50 });
      const id = await serviceOn(long);
      const abort = new AbortController();
      const res = await complete(id, { messages: HELLO, stream: true }, abort.signal);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain(chunkText(0));
      abort.abort();
      await within(long.clientDisconnected(), 3000, 'the model server to see the proxy close its request');
      // The proxy is still healthy afterwards.
      long.setMode('ok');
      const next = await t.http.post(`/api/services/${serviceId}/chat/completions`).send({ messages: HELLO }).expect(200);
      expect(next.body.choices[0].message.content).toBe(completionText(5));
    });

    it('aborts the upstream request when the client goes away before the model server answers', async () => {
      const silent = await newModel();
      silent.setMode('hang');
      const id = await serviceOn(silent);
      const abort = new AbortController();
      const pending = complete(id, { messages: HELLO, stream: true }, abort.signal).catch((error: unknown) => error);
      await until(() => silent.requests.length === 1, 'the request to reach the model server');
      const abortedAt = Date.now();
      abort.abort();
      expect(((await pending) as Error).name).toBe('AbortError');
      await within(silent.clientDisconnected(), 3000, 'the model server to see the proxy close its request');
      // Closed because the client left, not because the idle timeout expired.
      expect(Date.now() - abortedAt).toBeLessThan(IDLE_MS / 2);
    });

    it('ends with an error event and [DONE] when the model server fails mid-stream', async () => {
      const breaking = await newModel({ chunks: 6 });
      breaking.setMode('fail-mid-stream');
      const id = await serviceOn(breaking);
      const res = await complete(id, { messages: HELLO, stream: true });
      expect(res.status).toBe(200);
      const { text, error } = await readBody(res.body!);
      expect(error).toBeUndefined(); // the response itself ends properly
      const events = dataEvents(text);
      expect(events.slice(0, 3).map(contentOf)).toEqual([chunkText(0), chunkText(1), chunkText(2)]);
      expect(events).toHaveLength(5);
      expect(JSON.parse(events[3])).toEqual({
        error: {
          message: expect.stringContaining(`Model server 127.0.0.1:${breaking.port} stream failed: `),
          type: 'upstream_error',
          code: 'upstream_disconnected',
          param: null,
        },
      });
      expect(events[4]).toBe('[DONE]');
    });

    it('ends with an error event and [DONE] when the model server stalls mid-stream for the idle timeout', async () => {
      const stalling = await newModel({ chunks: 6 });
      stalling.setMode('hang-mid-stream');
      const id = await serviceOn(stalling);
      const started = Date.now();
      const res = await complete(id, { messages: HELLO, stream: true });
      const { text, error, endedAt } = await readBody(res.body!);
      expect(error).toBeUndefined();
      expect(endedAt - started).toBeGreaterThanOrEqual(IDLE_MS - 100);
      expect(endedAt - started).toBeLessThan(IDLE_MS + 2500);
      const events = dataEvents(text);
      expect(events.slice(0, 3).map(contentOf)).toEqual([chunkText(0), chunkText(1), chunkText(2)]);
      expect(events).toHaveLength(5);
      expect(JSON.parse(events[3]).error).toEqual({
        message: `Model server 127.0.0.1:${stalling.port} stopped sending (idle timeout)`,
        type: 'upstream_error',
        code: 'upstream_timeout',
        param: null,
      });
      expect(events[4]).toBe('[DONE]');
      await within(stalling.clientDisconnected(), 2000, 'the proxy to close the stalled upstream request');
    });

    it('ends the answer with [DONE] while the model server still holds its body open after it', async () => {
      const lingering = await newModel({ chunks: 3 });
      lingering.setMode('hang-after-done');
      const id = await serviceOn(lingering);
      const res = await complete(id, { messages: HELLO, stream: true });
      const { text, error } = await readBody(res.body!);
      expect(error).toBeUndefined();
      const events = dataEvents(text);
      expect(events.slice(0, 3).map(contentOf)).toEqual([chunkText(0), chunkText(1), chunkText(2)]);
      expect(events.slice(3)).toEqual(['[DONE]']);
      // The answer ended first: the proxy had not yet let go of the model server's connection.
      let upstreamClosed = false;
      const closed = lingering.clientDisconnected().then(() => (upstreamClosed = true));
      await new Promise(setImmediate);
      expect(upstreamClosed).toBe(false);
      // It does once the idle timeout passes, without a word more to the client, whose answer has ended.
      await within(closed, IDLE_MS + 2000, 'the proxy to close the lingering upstream request');
    });
  });

  describe('the official openai client', () => {
    const client = (id: number, apiKey = t.adminToken) => new OpenAI({ baseURL: `${base}/api/services/${id}`, apiKey, maxRetries: 0 });

    it('authenticates with an API token as its apiKey, and is refused with any other key before the model server is asked', async () => {
      const { token } = (await t.http.post('/api/auth/tokens').send({ name: 'chat script', role: 'operator' }).expect(201)).body as { token: string };
      const completion = await client(serviceId, token).chat.completions.create({
        model: 'jiuge',
        messages: [{ role: 'user', content: 'hello there' }],
      });
      expect(completion.choices[0].message.content).toBe(completionText(5));
      const asked = model.requests.length;
      const refusal = await client(serviceId, 'sk-not-ours')
        .chat.completions.create({ model: 'jiuge', messages: [{ role: 'user', content: 'hello there' }] })
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((refusal as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
      expect(model.requests).toHaveLength(asked);
    });

    it('gets a non-streamed completion', async () => {
      const completion = await client(serviceId).chat.completions.create({
        model: 'jiuge',
        messages: [{ role: 'user', content: 'hello there' }],
      });
      expect(completion.choices[0].message.content).toBe(completionText(5));
      expect(completion.model).toBe('jiuge');
      expect(completion.usage?.total_tokens).toBe(7);
      expect(model.requests.at(-1)).toEqual({ model: 'jiuge', messages: HELLO });
    });

    it('iterates a streamed completion chunk by chunk', async () => {
      const upstream = await newModel({ chunks: 30, delayMs: 5 });
      const id = await serviceOn(upstream);
      const stream = await client(id).chat.completions.create({
        model: 'jiuge',
        messages: [{ role: 'user', content: 'hello there' }],
        stream: true,
      });
      let text = '';
      let chunks = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        chunks++;
      }
      expect(chunks).toBe(30);
      expect(text).toBe(completionText(30));
      expect(upstream.requests).toEqual([{ model: 'jiuge', messages: HELLO, stream: true }]);
    });

    it('sees an upstream 400 with an OpenAI error as a BadRequestError keeping its code and type, streamed or not', async () => {
      model.setMode('bad-request');
      for (const stream of [false, true]) {
        const failure = await client(serviceId)
          .chat.completions.create({ model: 'jiuge', messages: [{ role: 'user', content: 'hello there' }], stream })
          .catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
        const { status, code, type, message } = failure as InstanceType<typeof OpenAI.BadRequestError>;
        expect({ stream, status, code, type, message }).toEqual({
          stream,
          status: 400,
          code: 'invalid_temperature',
          type: 'invalid_request_error',
          message: '400 bad temperature',
        });
      }
    });

    it('sees an upstream 401 as a 502 APIError naming the model server, not as its own key being refused', async () => {
      model.setMode('unauthorized');
      const failure = await client(serviceId)
        .chat.completions.create({ model: 'jiuge', messages: [{ role: 'user', content: 'hello there' }] })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(OpenAI.InternalServerError);
      const { status, code, type, message } = failure as InstanceType<typeof OpenAI.InternalServerError>;
      expect({ status, code, type }).toEqual({ status: 502, code: 'upstream_status_401', type: 'upstream_error' });
      expect(message).toBe(`502 Model server 127.0.0.1:${model.port} answered 401 Unauthorized: Invalid API key`);
    });
  });
});
