import { AddressInfo } from 'node:net';
import { closedPort } from './helpers/sshd';
import OpenAI from 'openai';
import { chunkText, completionText, embeddingOf, MODEL_CREATED, ModelServerOptions, startModelServer, TestModelServer } from './helpers/model-server';
import { startTestApp, TestApp } from './helpers/test-app';

/**
 * The OpenAI-compatible API of a service (`/api/services/:id/…`) driven by the real `openai` client: models,
 * chat completions, completions and embeddings against model servers that serve `/v1/…`, the legacy root paths, or
 * both; and every error in OpenAI's shape, so that the client's APIError carries `code`, `type` and `param`.
 */

const UNKNOWN_ID = 987654;
/** CHAT_IDLE_TIMEOUT_MS in this suite. */
const IDLE_MS = 1500;
/** CHAT_CONNECT_TIMEOUT_MS in this suite: also the bound on a model list. */
const CONNECT_MS = 1000;
/** The model of the suite's services (CHAT_DEFAULT_MODEL is `jiuge`). */
const SERVICE_MODEL = 'qwen2.5-7b-instruct';
const HELLO = [{ role: 'user' as const, content: 'hello there' }];

/**
 * The error a call fails with; a call that succeeds fails the test. Callers start each call only when they await it: an
 * openai promise that fails before anything awaits it is an unhandled rejection, which fails whichever test is running.
 */
async function failureOf(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(OpenAI.APIError);
  return outcome.error as InstanceType<typeof OpenAI.APIError>;
}

/** What a caller of the client sees of an APIError. */
const seen = ({ status, code, type, param }: InstanceType<typeof OpenAI.APIError>) => ({ status, code, type, param });

describe('the openai client against the OpenAI-compatible API of a service', () => {
  let t: TestApp;
  let base: string;
  let modelId: number;
  const models: TestModelServer[] = [];

  const createService = async (chatPorts: number[], model = modelId): Promise<number> => {
    const serverIds: number[] = [];
    for (const chatPort of chatPorts) {
      const body = { name: `gpu-${chatPort}-${serverIds.length}`, host_ip: '127.0.0.1', username: 'u', agent_port: 8888, chat_port: chatPort };
      serverIds.push((await t.http.post('/api/servers').send(body).expect(201)).body.id);
    }
    return (await t.http.post('/api/services').send({ name: 'svc', model_id: model, server_ids: serverIds }).expect(201)).body.id;
  };
  /** A model server of its own, stopped with the suite, and a service on it. */
  const serviceWith = async (options: ModelServerOptions = {}): Promise<{ id: number; upstream: TestModelServer }> => {
    const upstream = await startModelServer(options);
    models.push(upstream);
    return { id: await createService([upstream.port]), upstream };
  };
  const client = (id: number, apiKey = t.adminToken) => new OpenAI({ baseURL: `${base}/api/services/${id}`, apiKey, maxRetries: 0 });
  /** `created` of the models a service lists for itself: its own creation, in Unix seconds. */
  const createdOf = async (id: number): Promise<number> =>
    Math.floor(Date.parse((await t.http.get(`/api/services/${id}`).expect(200)).body.created_at) / 1000);
  const configuredModels = (created: number) => [
    { id: SERVICE_MODEL, object: 'model', created, owned_by: 'infinistudio' },
    { id: 'jiuge', object: 'model', created, owned_by: 'infinistudio' },
  ];

  beforeAll(async () => {
    t = await startTestApp({ CHAT_IDLE_TIMEOUT_MS: String(IDLE_MS), CHAT_CONNECT_TIMEOUT_MS: String(CONNECT_MS) });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    modelId = (await t.http.post('/api/models').send({ name: SERVICE_MODEL }).expect(201)).body.id;
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(models.map((model) => model.stop()));
  });

  describe('models', () => {
    it("lists and retrieves the models a /v1 model server serves, completing entries to OpenAI's shape", async () => {
      const { id, upstream } = await serviceWith({ paths: 'v1', models: ['Qwen/Qwen2.5-7B-Instruct', { id: 'bare' }, { name: 'no id' }] });
      const created = await createdOf(id);
      const served = { id: 'Qwen/Qwen2.5-7B-Instruct', object: 'model', created: MODEL_CREATED, owned_by: 'test-server', max_model_len: 4096 };
      const list = await client(id).models.list();
      expect(list.data).toEqual([served, { id: 'bare', object: 'model', created, owned_by: 'infinistudio' }]);
      // The client encodes the slash of the id; the route takes it back.
      expect(await client(id).models.retrieve('Qwen/Qwen2.5-7B-Instruct')).toEqual(served);
      expect(upstream.hits).toEqual(['GET /v1/models', 'GET /v1/models']);
    });

    it('finds the list of a legacy model server at /models, and goes straight there afterwards', async () => {
      const { id, upstream } = await serviceWith({ paths: 'legacy', models: ['legacy-model'] });
      expect((await client(id).models.list()).data.map((model) => model.id)).toEqual(['legacy-model']);
      expect((await client(id).models.retrieve('legacy-model')).owned_by).toBe('test-server');
      expect(upstream.hits).toEqual(['GET /v1/models', 'GET /models', 'GET /models']);
    });

    it("lists the service's model and CHAT_DEFAULT_MODEL when no model server lists any", async () => {
      const cases: Array<[string, () => Promise<number>]> = [
        ['a model server without a model list', async () => (await serviceWith()).id],
        ['no servers', () => createService([])],
        ['a closed port', async () => createService([await closedPort()])],
      ];
      for (const [why, service] of cases) {
        const id = await service();
        expect({ why, data: (await client(id).models.list()).data }).toEqual({ why, data: configuredModels(await createdOf(id)) });
        expect({ why, model: await client(id).models.retrieve('jiuge') }).toEqual({ why, model: configuredModels(await createdOf(id))[1] });
      }
      // A service of the default model lists it once.
      const jiuge = (await t.http.post('/api/models').send({ name: 'jiuge' }).expect(201)).body.id;
      const id = await createService([], jiuge);
      expect((await client(id).models.list()).data.map((model) => model.id)).toEqual(['jiuge']);
    });

    it(`does not wait for a model server that does not list its models within CHAT_CONNECT_TIMEOUT_MS (${CONNECT_MS} ms)`, async () => {
      const { id, upstream } = await serviceWith({ models: ['never-listed'] });
      upstream.setMode('hang');
      const started = Date.now();
      const list = await client(id).models.list();
      expect(Date.now() - started).toBeLessThan(CONNECT_MS + 1000);
      expect(list.data).toEqual(configuredModels(await createdOf(id)));
      await upstream.clientDisconnected();
    });

    it("answers a model it does not serve with OpenAI's 404 model_not_found", async () => {
      const { id } = await serviceWith({ models: ['served'] });
      const failure = await failureOf(client(id).models.retrieve('gpt-4o'));
      expect(failure).toBeInstanceOf(OpenAI.NotFoundError);
      expect(seen(failure)).toEqual({ status: 404, code: 'model_not_found', type: 'invalid_request_error', param: 'model' });
      expect(failure.message).toBe("404 The model 'gpt-4o' does not exist");
    });
  });

  describe('completions, chat and text, and embeddings', () => {
    it('gets chat completions from a model server that serves only /v1, streamed and not, with the SSE headers', async () => {
      const { id, upstream } = await serviceWith({ paths: 'v1', chunks: 4 });
      const completion = await client(id).chat.completions.create({ model: 'jiuge', messages: HELLO });
      expect(completion.choices[0].message.content).toBe(completionText(4));
      const { data: stream, response } = await client(id).chat.completions.create({ model: 'jiuge', messages: HELLO, stream: true }).withResponse();
      expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toBe(completionText(4));
      expect(upstream.hits).toEqual(['POST /v1/chat/completions', 'POST /v1/chat/completions']);
    });

    it('falls back to /chat/completions on a legacy model server, remembers it, and probes again once it is re-deployed', async () => {
      const { id, upstream } = await serviceWith({ paths: 'legacy', chunks: 3 });
      const ask = async () => (await client(id).chat.completions.create({ model: 'jiuge', messages: HELLO })).choices[0].message.content;
      expect(await ask()).toBe(completionText(3));
      expect(upstream.hits).toEqual(['POST /v1/chat/completions', 'POST /chat/completions']);
      expect(await ask()).toBe(completionText(3));
      expect(upstream.hits.slice(2)).toEqual(['POST /chat/completions']);
      // Streamed requests take the same path.
      let streamed = '';
      for await (const chunk of await client(id).chat.completions.create({ model: 'jiuge', messages: HELLO, stream: true }))
        streamed += chunk.choices[0]?.delta?.content ?? '';
      expect(streamed).toBe(completionText(3));
      expect(upstream.hits.slice(3)).toEqual(['POST /chat/completions']);

      upstream.setPaths('v1');
      expect(await ask()).toBe(completionText(3));
      expect(upstream.hits.slice(4)).toEqual(['POST /chat/completions', 'POST /v1/chat/completions']);
      expect(await ask()).toBe(completionText(3));
      expect(upstream.hits.slice(6)).toEqual(['POST /v1/chat/completions']);
      // Each request reached the model server's completions once.
      expect(upstream.requests).toHaveLength(5);
    });

    it('gets text completions, streamed and not, passing every field on', async () => {
      const { id, upstream } = await serviceWith({ paths: 'v1', chunks: 6 });
      const completion = await client(id).completions.create({ model: 'jiuge', prompt: 'Once upon a time', max_tokens: 16 });
      expect(completion).toMatchObject({
        object: 'text_completion',
        model: 'jiuge',
        choices: [{ index: 0, text: completionText(6), finish_reason: 'stop' }],
      });
      expect(upstream.requests.at(-1)).toEqual({ model: 'jiuge', prompt: 'Once upon a time', max_tokens: 16 });
      const { data: stream, response } = await client(id).completions.create({ model: 'jiuge', prompt: 'Once', stream: true }).withResponse();
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
      const texts: string[] = [];
      for await (const chunk of stream) texts.push(chunk.choices[0].text);
      expect(texts).toEqual(Array.from({ length: 6 }, (_, i) => chunkText(i)));
      expect(upstream.hits).toEqual(['POST /v1/completions', 'POST /v1/completions']);
    });

    it('defaults the model of a text completion to CHAT_DEFAULT_MODEL, and finds a legacy /completions', async () => {
      const { id, upstream } = await serviceWith({ paths: 'legacy' });
      const res = await t.http
        .post(`/api/services/${id}/completions`)
        .send({ prompt: ['a', 'b'] })
        .expect(200);
      expect(res.body.choices[0].text).toBe(completionText(5));
      expect(upstream.requests).toEqual([{ prompt: ['a', 'b'], model: 'jiuge' }]);
      expect(upstream.hits).toEqual(['POST /v1/completions', 'POST /completions']);
    });

    it('gets embeddings: the base64 the client asks for by default, and floats', async () => {
      const { id, upstream } = await serviceWith({ paths: 'v1' });
      const inputs = ['hello there', 'a much longer sentence to embed'];
      const embeddings = await client(id).embeddings.create({ model: 'jiuge', input: inputs });
      expect(embeddings.data.map((entry) => entry.embedding)).toEqual(inputs.map(embeddingOf));
      expect(upstream.requests.at(-1)).toEqual({ model: 'jiuge', input: inputs, encoding_format: 'base64' });
      const floats = await client(id).embeddings.create({ model: 'jiuge', input: 'x', encoding_format: 'float' });
      expect(floats.data).toEqual([{ object: 'embedding', index: 0, embedding: embeddingOf('x') }]);
      expect(floats.usage).toEqual({ prompt_tokens: 1, total_tokens: 1 });
    });

    it('gets embeddings from a legacy /embeddings, and never streams them', async () => {
      const { id, upstream } = await serviceWith({ paths: 'legacy' });
      const res = await t.http.post(`/api/services/${id}/embeddings`).send({ input: 'hi', stream: true }).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.data[0].embedding).toEqual(embeddingOf('hi'));
      expect(upstream.hits).toEqual(['POST /v1/embeddings', 'POST /embeddings']);
    });

    it('aborts the upstream request of a streamed text completion when the client goes away', async () => {
      const { id, upstream } = await serviceWith({ chunks: 200, delayMs: 50 });
      const abort = new AbortController();
      const stream = await client(id).completions.create({ model: 'jiuge', prompt: 'Once', stream: true }, { signal: abort.signal });
      for await (const chunk of stream) {
        expect(chunk.choices[0].text).toBe(chunkText(0));
        abort.abort();
        break;
      }
      await upstream.clientDisconnected();
    });
  });

  describe("errors, in OpenAI's shape", () => {
    it('answers an unknown service with 404 service_not_found on every route', async () => {
      const unknown = client(UNKNOWN_ID);
      for (const call of [
        () => unknown.models.list(),
        () => unknown.models.retrieve('jiuge'),
        () => unknown.chat.completions.create({ model: 'jiuge', messages: HELLO }),
        () => unknown.chat.completions.create({ model: 'jiuge', messages: HELLO, stream: true }),
        () => unknown.completions.create({ model: 'jiuge', prompt: 'x' }),
        () => unknown.embeddings.create({ model: 'jiuge', input: 'x' }),
      ]) {
        const failure = await failureOf(call());
        expect(failure).toBeInstanceOf(OpenAI.NotFoundError);
        expect(seen(failure)).toEqual({ status: 404, code: 'service_not_found', type: 'invalid_request_error', param: null });
        expect(failure.message).toBe(`404 Service ${UNKNOWN_ID} not found`);
      }
    });

    it('refuses a request without its required field, naming it in param, before asking the model server', async () => {
      const { id, upstream } = await serviceWith();
      const cases: Array<[string, () => Promise<unknown>]> = [
        ['messages', () => client(id).chat.completions.create({ model: 'jiuge' } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)],
        ['prompt', () => client(id).completions.create({ model: 'jiuge' } as unknown as OpenAI.CompletionCreateParamsNonStreaming)],
        ['input', () => client(id).embeddings.create({ model: 'jiuge', encoding_format: 'float' } as unknown as OpenAI.EmbeddingCreateParams)],
      ];
      for (const [param, call] of cases) {
        const failure = await failureOf(call());
        expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
        expect(seen(failure)).toEqual({ status: 400, code: 'missing_required_parameter', type: 'invalid_request_error', param });
        expect(failure.message).toBe(`400 Missing required parameter: '${param}'`);
      }
      const wrongType = await failureOf(client(id).completions.create({ model: 'jiuge', prompt: 'x', stream: 'yes' as unknown as false }));
      expect(seen(wrongType)).toEqual({ status: 400, code: 'invalid_type', type: 'invalid_request_error', param: 'stream' });
      expect(upstream.requests).toEqual([]);
    });

    it('answers 400 no_servers, 502 upstream_unreachable and 504 upstream_timeout', async () => {
      const noServers = await failureOf(client(await createService([])).chat.completions.create({ model: 'jiuge', messages: HELLO }));
      expect(noServers).toBeInstanceOf(OpenAI.BadRequestError);
      expect(seen(noServers)).toEqual({ status: 400, code: 'no_servers', type: 'invalid_request_error', param: null });

      const port = await closedPort();
      const unreachable = await failureOf(client(await createService([port])).embeddings.create({ model: 'jiuge', input: 'x' }));
      expect(unreachable).toBeInstanceOf(OpenAI.InternalServerError);
      expect(seen(unreachable)).toEqual({ status: 502, code: 'upstream_unreachable', type: 'upstream_error', param: null });
      expect(unreachable.message).toBe(`502 Connection failed: connection refused by 127.0.0.1:${port}`);

      const { id, upstream } = await serviceWith();
      upstream.setMode('hang');
      const timeout = await failureOf(client(id).completions.create({ model: 'jiuge', prompt: 'x' }));
      expect(seen(timeout)).toEqual({ status: 504, code: 'upstream_timeout', type: 'upstream_error', param: null });
      expect(timeout.message).toBe(`504 Model server 127.0.0.1:${upstream.port} did not answer in time`);
    });

    it("passes a model server's OpenAI error on intact from completions and embeddings, streamed or not", async () => {
      const { id, upstream } = await serviceWith({ paths: 'v1' });
      upstream.setMode('bad-request');
      for (const call of [
        () => client(id).completions.create({ model: 'jiuge', prompt: 'x', temperature: 7 }),
        () => client(id).completions.create({ model: 'jiuge', prompt: 'x', temperature: 7, stream: true }),
        () => client(id).embeddings.create({ model: 'jiuge', input: 'x' }),
      ]) {
        const failure = await failureOf(call());
        expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
        expect({ ...seen(failure), message: failure.message }).toEqual({
          status: 400,
          code: 'invalid_temperature',
          type: 'invalid_request_error',
          param: undefined,
          message: '400 bad temperature',
        });
      }
    });

    it('raises a failure mid-stream as an APIError with its code', async () => {
      const { id, upstream } = await serviceWith({ chunks: 6 });
      upstream.setMode('fail-mid-stream');
      const texts: string[] = [];
      const failure = await failureOf(
        (async () => {
          for await (const chunk of await client(id).chat.completions.create({ model: 'jiuge', messages: HELLO, stream: true }))
            texts.push(chunk.choices[0].delta.content ?? '');
        })(),
      );
      expect(texts).toEqual([chunkText(0), chunkText(1), chunkText(2)]);
      expect({ code: failure.code, type: failure.type }).toEqual({ code: 'upstream_disconnected', type: 'upstream_error' });
      expect(failure.message).toContain(`Model server 127.0.0.1:${upstream.port} stream failed`);
    });

    it('answers 401 without a token or with a wrong one, and 403 to a role that may not, before asking the model server', async () => {
      const { id, upstream } = await serviceWith({ models: ['served'] });
      const anonymous = new OpenAI({
        baseURL: `${base}/api/services/${id}`,
        apiKey: 'unused',
        defaultHeaders: { Authorization: null },
        maxRetries: 0,
      });
      for (const [who, caller, code] of [
        ['no token', anonymous, 'missing_api_key'],
        ['a wrong token', client(id, 'sk-not-ours'), 'invalid_api_key'],
      ] as const) {
        for (const call of [() => caller.models.list(), () => caller.chat.completions.create({ model: 'jiuge', messages: HELLO })]) {
          const failure = await failureOf(call());
          expect(failure).toBeInstanceOf(OpenAI.AuthenticationError);
          expect({ who, ...seen(failure) }).toEqual({ who, status: 401, code, type: 'authentication_error', param: null });
          expect(failure.headers?.get('www-authenticate')).toBe('Bearer');
        }
      }
      await t.http.post('/api/users').send({ username: 'vera', password: 'vera-password', role: 'viewer' }).expect(201);
      const viewer = client(id, await t.login('vera', 'vera-password'));
      // A viewer reads the models, but may not spend the model server's time.
      expect((await viewer.models.list()).data.map((model) => model.id)).toEqual(['served']);
      const refused = await failureOf(viewer.embeddings.create({ model: 'jiuge', input: 'x' }));
      expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(seen(refused)).toEqual({ status: 403, code: 'permission_denied', type: 'permission_error', param: null });
      expect(refused.message).toBe('403 This needs the operator role; vera is a viewer');
      expect(upstream.requests).toEqual([]);
    });

    it('keeps the house error shape on the chat history routes', async () => {
      const history = await t.http.get(`/api/services/${UNKNOWN_ID}/chat`).expect(404);
      expect(history.body).toEqual({ statusCode: 404, error: `Service ${UNKNOWN_ID} not found`, request_id: expect.any(String) });
      const anonymous = await t.anonymous.delete(`/api/services/${UNKNOWN_ID}/chat`).expect(401);
      expect(anonymous.body).toEqual({ statusCode: 401, error: expect.stringMatching(/authentication required/i), request_id: expect.any(String) });
      const models = await t.http.get(`/api/services/${UNKNOWN_ID}/models`).expect(404);
      expect(models.body).toEqual({
        error: { message: `Service ${UNKNOWN_ID} not found`, type: 'invalid_request_error', code: 'service_not_found', param: null },
      });
    });
  });

  it('documents each route of the API with a summary, the chat tag, its content types and OpenAI-shaped errors', async () => {
    const document = (await t.http.get('/api/docs-json').expect(200)).body;
    const operation = (path: string, method: string) => document.paths[`/api/services/{id}${path}`][method];
    const openAiError = { $ref: '#/components/schemas/OpenAiErrorResponse' };
    const routes: Array<[string, string, string[]]> = [
      ['/chat/completions', 'post', ['application/json', 'text/event-stream']],
      ['/completions', 'post', ['application/json', 'text/event-stream']],
      ['/embeddings', 'post', ['application/json']],
      ['/models', 'get', ['application/json']],
      ['/models/{model}', 'get', ['application/json']],
    ];
    for (const [path, method, types] of routes) {
      const { tags, summary, responses } = operation(path, method);
      expect({ path, tags, summary: typeof summary === 'string' && summary.length > 10 && summary.length < 100 }).toEqual({
        path,
        tags: ['chat'],
        summary: true,
      });
      expect({ path, types: Object.keys(responses['200'].content) }).toEqual({ path, types });
      if (types.includes('text/event-stream')) expect(responses['200'].content['text/event-stream'].schema).toMatchObject({ type: 'string' });
      const errors = Object.entries(responses as Record<string, { content: Record<string, { schema: unknown }> }>).filter(([status]) =>
        /^[45]/.test(status),
      );
      expect({ path, statuses: errors.map(([status]) => status) }).toEqual({ path, statuses: expect.arrayContaining(['400', '401', '404']) });
      for (const [status, response] of errors)
        expect({ path, status, content: response.content }).toEqual({ path, status, content: { 'application/json': { schema: openAiError } } });
    }
    expect(operation('/models', 'get').responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/OpenAiModelList' });
    expect(document.components.schemas.OpenAiErrorResponse.properties.error).toEqual({ $ref: '#/components/schemas/OpenAiError' });
    expect(Object.keys(document.components.schemas.OpenAiError.properties).sort()).toEqual(['code', 'message', 'param', 'type']);
    // The history routes keep the house error body.
    expect(operation('/chat', 'get').responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorResponse' });
  });
});
