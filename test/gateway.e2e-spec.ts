import { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { completionText, startModelServer, TestModelServer } from './helpers/model-server';
import { closedPort } from './helpers/sshd';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';

const MODEL = 'qwen2.5-7b-instruct';
const HELLO = [{ role: 'user' as const, content: 'hello there' }];

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
    await service(qwen, [upstreams[2].port]);
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
    for (const name of ['no-such-model', 'llama-3-8b']) {
      const error = await client()
        .chat.completions.create({ model: name, messages: HELLO })
        .then(
          () => undefined,
          (failure: unknown) => failure as InstanceType<typeof OpenAI.APIError>,
        );
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect({ status: error!.status, code: error!.code, param: error!.param }).toEqual({ status: 404, code: 'model_not_found', param: 'model' });
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
});
