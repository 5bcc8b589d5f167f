import { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { completionText, startModelServer, TestModelServer } from './helpers/model-server';
import { closedPort } from './helpers/sshd';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';
import { eventually } from './helpers/wait';

const MODEL = 'qwen2.5-7b-instruct';
const HELLO = [{ role: 'user' as const, content: 'hello there' }];

/** A new API token of the test admin. */
const newToken = async (t: TestApp, fields: Record<string, unknown> = {}) =>
  (
    await t.http
      .post('/api/auth/tokens')
      .send({ name: 'gateway-test', role: 'operator', ...fields })
      .expect(201)
  ).body as { id: number; token: string };

/** The error an `openai` call failed with, or undefined when it succeeded. */
const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (failure: unknown) => failure as InstanceType<typeof OpenAI.APIError>,
  );

/** `POST /v1/chat/completions` requests a model server has had. */
const chats = (upstream: TestModelServer) => upstream.hits.filter((hit) => hit === 'POST /v1/chat/completions').length;

/**
 * The /v1 gateway driven by the real `openai` client: one base URL, requests routed by `model` to the deployed
 * services of that model, spread over their servers (replicas), and failing over from a replica that is down.
 */
describe('the /v1 gateway', () => {
  let t: TestApp;
  let base: string;
  let apiKey: string;
  /** The second service of MODEL: the one on upstreams[2]. */
  let secondService: number;
  const upstreams: TestModelServer[] = [];

  const client = (key = apiKey) => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });

  const model = async (name: string) => (await t.http.post('/api/models').send({ name }).expect(201)).body.id as number;
  const server = async (chatPort: number) =>
    (
      await t.http
        .post('/api/servers')
        .send({ name: `gpu-${chatPort}`, host_ip: '127.0.0.1', username: 'u', chat_port: chatPort })
        .expect(201)
    ).body.id as number;
  /** A service of `modelId` on servers whose model servers listen on `chatPorts`, marked deployed as the agents would. */
  const service = async (modelId: number, chatPorts: number[], deployed = true) => {
    const serverIds = [];
    for (const port of chatPorts) serverIds.push(await server(port));
    const id = (
      await t.http
        .post('/api/services')
        .send({ name: `svc-${modelId}`, model_id: modelId, server_ids: serverIds })
        .expect(201)
    ).body.id as number;
    if (deployed) await t.sql(`UPDATE services SET deploy_status = 'deployed' WHERE id = ${placeholder(1)}`, [id]);
    return id;
  };

  beforeAll(async () => {
    t = await startTestApp({ GATEWAY_COOLDOWN_SECONDS: '60', CHAT_CONNECT_TIMEOUT_MS: '1000' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    apiKey = (await t.http.post('/api/auth/tokens').send({ name: 'gateway-client', role: 'operator' }).expect(201)).body.token as string;
    for (let n = 0; n < 3; n++) upstreams.push(await startModelServer({ chunks: 4 }));
    const qwen = await model(MODEL);
    // Two services of the same model: three replicas.
    await service(qwen, [upstreams[0].port, upstreams[1].port]);
    secondService = await service(qwen, [upstreams[2].port]);
    // Not deployed: not routable.
    await service(await model('llama-3-8b'), [upstreams[0].port], false);
  });

  afterAll(async () => {
    await t?.close();
    for (const upstream of upstreams) await upstream.stop();
  });

  it('lists the models of deployed services, each once', async () => {
    const listed = await client().models.list();
    expect(listed.data.map((entry) => [entry.id, entry.object, entry.owned_by])).toEqual([[MODEL, 'model', 'infinistudio']]);
    expect((await client().models.retrieve(MODEL)).id).toBe(MODEL);
  });

  it('routes by model and spreads sequential requests over every replica in turn', async () => {
    const before = upstreams.map(chats);
    for (let n = 0; n < 9; n++) {
      const answer = await client().chat.completions.create({ model: MODEL, messages: HELLO });
      expect(answer.choices[0].message.content).toBe(completionText(4));
    }
    expect(upstreams.map((upstream, index) => chats(upstream) - before[index])).toEqual([3, 3, 3]);
  });

  it('streams through the gateway', async () => {
    const stream = await client().chat.completions.create({ model: MODEL, messages: HELLO, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(completionText(4));
  });

  it('sends requests to the next replica when one is down, without an error', async () => {
    const port = await closedPort();
    const isolated = await service(await model('solo'), [port, upstreams[2].port]);
    expect(isolated).toBeGreaterThan(0);
    const before = chats(upstreams[2]);
    for (let n = 0; n < 4; n++) await client().chat.completions.create({ model: 'solo', messages: HELLO });
    expect(chats(upstreams[2]) - before).toBe(4);
  });

  it('answers an unknown or undeployed model with 404 model_not_found', async () => {
    for (const name of ['no-such-model', 'llama-3-8b', 'x'.repeat(100_000)]) {
      const error = await client()
        .chat.completions.create({ model: name, messages: HELLO })
        .then(
          () => undefined,
          (failure: unknown) => failure as InstanceType<typeof OpenAI.APIError>,
        );
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect({ status: error!.status, code: error!.code, param: error!.param }).toEqual({ status: 404, code: 'model_not_found', param: 'model' });
      expect(error!.message.length).toBeLessThan(400);
    }
  });

  it('refuses a viewer token (403) and a revoked token (401), in OpenAI shape', async () => {
    const viewer = (await t.http.post('/api/auth/tokens').send({ name: 'reader', role: 'viewer' }).expect(201)).body as { id: number; token: string };
    await expect(client(viewer.token).chat.completions.create({ model: MODEL, messages: HELLO })).rejects.toBeInstanceOf(
      OpenAI.PermissionDeniedError,
    );
    expect((await client(viewer.token).models.list()).data).toHaveLength(2);
    await t.http.delete(`/api/auth/tokens/${viewer.id}`).expect(200);
    await expect(client(viewer.token).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('routes an alias to its service, asking the model server for the model by its own name', async () => {
    await t.http
      .put(`/api/services/${secondService}`)
      .send({ aliases: ['gpt-4o-mini'] })
      .expect(200);
    expect((await client().models.list()).data.map((entry) => entry.id)).toEqual(['gpt-4o-mini', MODEL, 'solo']);
    const before = upstreams.map(chats);
    const answer = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: HELLO });
    expect(answer.choices[0].message.content).toBe(completionText(4));
    expect(upstreams.map((upstream, index) => chats(upstream) - before[index])).toEqual([0, 0, 1]);
    expect((upstreams[2].requests.at(-1) as { model: string }).model).toBe(MODEL);
    expect((await t.http.get(`/api/services/${secondService}`).expect(200)).body.aliases).toEqual(['gpt-4o-mini']);
  });

  it('refuses aliases that are not model names, changing nothing', async () => {
    for (const aliases of [['has space'], ['x'.repeat(129)], [''], 'gpt', [7], ['a', 'a'], null]) {
      await t.http.put(`/api/services/${secondService}`).send({ aliases }).expect(400);
    }
    expect((await t.http.get(`/api/services/${secondService}`).expect(200)).body.aliases).toEqual(['gpt-4o-mini']);
  });

  it('spreads 30 concurrent streams over three replicas within one of even', async () => {
    const before = upstreams.map(chats);
    const concurrent = await Promise.all(
      Array.from({ length: 30 }, () => client().chat.completions.create({ model: MODEL, messages: HELLO, stream: true })),
    );
    for (const stream of concurrent) for await (const _chunk of stream) void _chunk;
    const spread = upstreams.map((upstream, index) => chats(upstream) - before[index]);
    expect(spread.reduce((sum, n) => sum + n, 0)).toBe(30);
    for (const count of spread) expect(Math.abs(count - 10)).toBeLessThanOrEqual(1);
  });

  it('ends a stream that breaks mid-way with an error event, and never retries it elsewhere', async () => {
    const before = upstreams.map(chats);
    for (const upstream of upstreams) upstream.setMode('fail-mid-stream');
    try {
      const stream = await client().chat.completions.create({ model: MODEL, messages: HELLO, stream: true });
      let text = '';
      const failure = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })().then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(failure).toBeInstanceOf(OpenAI.APIError);
      expect(failure?.message).toMatch(/stream failed/);
      expect(text).toBe(completionText(2));
    } finally {
      for (const upstream of upstreams) upstream.setMode('ok');
    }
    const sent = upstreams.map((upstream, index) => chats(upstream) - before[index]);
    expect(sent.reduce((sum, n) => sum + n, 0)).toBe(1);
  });

  it('counts a stream its client left mid-way as abandoned, not ok', async () => {
    const abandonedCount = async () => {
      const { text } = await t.http.get('/metrics').expect(200);
      const line = new RegExp(`infinistudio_gateway_requests_total\\{model="${MODEL}",outcome="abandoned"\\} (\\d+)`).exec(text);
      return line ? Number(line[1]) : 0;
    };
    const before = await abandonedCount();
    for (const upstream of upstreams) upstream.setMode('hang-mid-stream');
    try {
      const leaving = new AbortController();
      const stream = await client().chat.completions.create({ model: MODEL, messages: HELLO, stream: true }, { signal: leaving.signal });
      for await (const _chunk of stream) {
        void _chunk;
        leaving.abort();
      }
    } catch (error) {
      expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
    } finally {
      for (const upstream of upstreams) upstream.setMode('ok');
    }
    // The backend notices the departure, ends the upstream call and counts it.
    await eventually(abandonedCount, (count) => count === before + 1, 'the abandoned stream to be counted');
  });

  describe('usage and limits per API token', () => {
    it('counts the upstream usage per token, model and day, asking streams for it without showing it to clients that did not', async () => {
      const metered = await newToken(t, { name: 'metered' });
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: metered.token, maxRetries: 0 });
      // 'hello there' is 2 prompt tokens for the test model server; 4 chunks are 4 completion tokens.
      await client.chat.completions.create({ model: MODEL, messages: HELLO });
      const sentBefore = upstreams.map((upstream) => upstream.requests.length);
      const chunks = [];
      for await (const chunk of await client.chat.completions.create({ model: MODEL, messages: HELLO, stream: true })) chunks.push(chunk);
      expect(chunks.every((chunk) => chunk.choices.length === 1)).toBe(true);
      const upstreamRequest = upstreams.map((upstream, index) => upstream.requests.slice(sentBefore[index])).flat()[0] as {
        stream_options?: unknown;
      };
      expect(upstreamRequest.stream_options).toEqual({ include_usage: true });
      const asked = [];
      const stream = await client.chat.completions.create({ model: MODEL, messages: HELLO, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) asked.push(chunk);
      expect(asked.at(-1)?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: HELLO });

      const { body } = await t.http.get('/api/usage').query({ token_id: metered.id }).expect(200);
      const today = new Date().toISOString().slice(0, 10);
      expect(body.entries).toEqual([
        {
          day: today,
          user_id: 1,
          username: 'admin',
          token_id: metered.id,
          token_name: 'metered',
          model: 'gpt-4o-mini',
          requests: 1,
          prompt_tokens: 2,
          completion_tokens: 4,
          total_tokens: 6,
        },
        {
          day: today,
          user_id: 1,
          username: 'admin',
          token_id: metered.id,
          token_name: 'metered',
          model: MODEL,
          requests: 3,
          prompt_tokens: 6,
          completion_tokens: 12,
          total_tokens: 18,
        },
      ]);
      expect(body.totals).toEqual({ requests: 4, prompt_tokens: 8, completion_tokens: 16, total_tokens: 24 });
      const onlyAlias = await t.http.get('/api/usage').query({ token_id: metered.id, model: 'gpt-4o-mini' }).expect(200);
      expect(onlyAlias.body.totals.requests).toBe(1);
    });

    it("shows a token's owner their own usage only, and everyone's to an admin", async () => {
      await t.http.post('/api/users').send({ username: 'op-user', password: 'op-user-password', role: 'operator' }).expect(201);
      const session = await t.login('op-user', 'op-user-password');
      const own = (await t.anonymous.post('/api/auth/tokens').set('Authorization', `Bearer ${session}`).send({ name: 'op-key' }).expect(201))
        .body as { id: number; token: string };
      await new OpenAI({ baseURL: `${base}/v1`, apiKey: own.token, maxRetries: 0 }).embeddings.create({ model: MODEL, input: 'three word input' });
      const mine = await t.anonymous.get('/api/usage').set('Authorization', `Bearer ${session}`).expect(200);
      expect(mine.body.entries.map((entry: { token_name: string; username: string }) => [entry.username, entry.token_name])).toEqual([
        ['op-user', 'op-key'],
      ]);
      expect(mine.body.totals).toEqual({ requests: 1, prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 });
      const everyone = await t.http.get('/api/usage').expect(200);
      expect(new Set(everyone.body.entries.map((entry: { username: string }) => entry.username))).toEqual(new Set(['admin', 'op-user']));
    });

    it('refuses a report with days that are not days or run backwards', async () => {
      for (const query of [
        { from: '2026-02-30' },
        { to: 'yesterday' },
        { from: '2026-11-02', to: '2026-11-01' },
        { from: '2020-01-01', to: '2026-01-01' },
        { token_id: 0 },
      ]) {
        await t.http.get('/api/usage').query(query).expect(400);
      }
    });

    it('answers 429 with Retry-After past rpm_limit, in OpenAI shape, and counts only what was let through', async () => {
      const limited = await newToken(t, { name: 'rpm-2', rpm_limit: 2 });
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: limited.token, maxRetries: 0 });
      const answered = await client.chat.completions.create({ model: MODEL, messages: HELLO }).withResponse();
      expect(answered.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
      await client.chat.completions.create({ model: MODEL, messages: HELLO });
      const before = upstreams.map(chats);
      const refused = await failureOf(client.chat.completions.create({ model: MODEL, messages: HELLO }));
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect({ status: refused!.status, code: refused!.code, type: refused!.type }).toEqual({
        status: 429,
        code: 'rate_limit_exceeded',
        type: 'requests',
      });
      const retryAfter = Number(refused!.headers?.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(upstreams.map(chats)).toEqual(before);
      expect((await t.http.get('/api/usage').query({ token_id: limited.id }).expect(200)).body.totals.requests).toBe(2);
    });

    it('answers 429 past tpm_limit once the tokens are spent, and lifts the limit at once when it is removed', async () => {
      const limited = await newToken(t, { name: 'tpm-5', tpm_limit: 5 });
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: limited.token, maxRetries: 0 });
      // Under the limit when it starts, so it runs; its 6 tokens spend the minute's 5.
      await client.chat.completions.create({ model: MODEL, messages: HELLO });
      const refused = await failureOf(client.chat.completions.create({ model: MODEL, messages: HELLO }));
      expect({ status: refused?.status, type: refused?.type }).toEqual({ status: 429, type: 'tokens' });
      await t.http.patch(`/api/auth/tokens/${limited.id}`).send({ tpm_limit: null }).expect(200);
      await client.chat.completions.create({ model: MODEL, messages: HELLO });
      const listed = (await t.http.get('/api/auth/tokens').expect(200)).body.find((token: { id: number }) => token.id === limited.id);
      expect({ rpm_limit: listed.rpm_limit, tpm_limit: listed.tpm_limit }).toEqual({ rpm_limit: null, tpm_limit: null });
    });

    it('refuses limits that are not positive integers, and hides other users’ tokens', async () => {
      const token = await newToken(t);
      for (const body of [{ rpm_limit: 0 }, { tpm_limit: -1 }, { rpm_limit: 1.5 }, { rpm_limit: '10' }, { name: null }]) {
        await t.http.patch(`/api/auth/tokens/${token.id}`).send(body).expect(400);
      }
      const session = await t.login('op-user', 'op-user-password');
      await t.anonymous.patch(`/api/auth/tokens/${token.id}`).set('Authorization', `Bearer ${session}`).send({ rpm_limit: 1 }).expect(404);
    });

    it('counts gateway calls and tokens in Prometheus', async () => {
      const { text } = await t.http.get('/metrics').expect(200);
      expect(text).toMatch(new RegExp(`infinistudio_gateway_requests_total\\{model="${MODEL}",outcome="ok"\\} \\d+`));
      expect(text).toMatch(new RegExp(`infinistudio_gateway_requests_total\\{model="${MODEL}",outcome="rate_limited"\\} [1-9]`));
      expect(text).toMatch(new RegExp(`infinistudio_gateway_tokens_total\\{model="${MODEL}",kind="completion"\\} [1-9]\\d*`));
      expect(text).not.toMatch(/infinistudio_gateway_requests_total\{model="no-such-model"/);
    });
  });
});
