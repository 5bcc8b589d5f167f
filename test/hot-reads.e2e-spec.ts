import { once } from 'node:events';
import { get, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { Response } from 'supertest';
import { BrandsService } from '../src/modules/inventory/brands.service';
import { AuthGuard } from '../src/modules/auth/auth.guard';
import { startTestApp, TestApp } from './helpers/test-app';

/** Set per answer by Node or per request by us: the only headers in which two answers to the same request may differ. */
const PER_ANSWER = ['date', 'x-request-id', 'connection', 'keep-alive'];

/**
 * The polled lists (brands, models, servers, the overview) are answered by the hot-read lane, ahead of Express (its
 * middleware chain) and of Nest's guard: the same answer the chain gives, to the same callers only. A GET with a query is the same
 * request to the route, but not one the lane takes, so it shows what the chain answers.
 */
describe('hot reads', () => {
  let t: TestApp;
  let guardCalls: jest.SpyInstance;

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/api/brands').send({ name: 'Ascend' }).expect(201);
    await t.http.post('/api/models').send({ name: 'Qwen' }).expect(201);
    await t.http.post('/api/servers').send({ name: 'gpu-1', host_ip: '127.0.0.1', username: 'u' }).expect(201);
    await t.http.post('/api/users').send({ username: 'vera', password: 'viewer-password', role: 'viewer' }).expect(201);
    guardCalls = jest.spyOn(AuthGuard.prototype, 'canActivate');
  });
  afterAll(() => t?.close());
  beforeEach(() => guardCalls.mockClear());

  /** The requests /metrics has timed for GET `route` answered 200. */
  const timedRequests = async (route: string): Promise<number> => {
    const histogram = t.app.get(Registry).getSingleMetric('infinistudio_http_request_duration_seconds')!;
    return (
      (await histogram.get()).values.find(
        (sample) =>
          (sample as { metricName?: string }).metricName === 'infinistudio_http_request_duration_seconds_count' &&
          sample.labels.method === 'GET' &&
          sample.labels.route === route &&
          sample.labels.status === '200',
      )?.value ?? 0
    );
  };

  const withoutPerAnswer = (response: Response) =>
    Object.fromEntries(Object.entries(response.headers).filter(([name]) => !PER_ANSWER.includes(name)));

  it.each(['/api/brands', '/api/models', '/api/servers', '/api/stats'])(
    '%s: the lane answers without the guard, with the very status, headers and body of the chain',
    async (path) => {
      const lane = await t.http.get(path).expect(200);
      expect(guardCalls).not.toHaveBeenCalled();
      const chain = await t.http.get(`${path}?through=chain`).expect(200);
      expect(guardCalls).toHaveBeenCalledTimes(1);

      expect(lane.text).toBe(chain.text);
      expect(withoutPerAnswer(lane)).toEqual(withoutPerAnswer(chain));
      expect(lane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(lane.headers['content-security-policy']).toContain("default-src 'self'");
      expect(lane.headers['x-content-type-options']).toBe('nosniff');
    },
  );

  it('answers HEAD through the chain with the length of the body it leaves out', async () => {
    const get = await t.http.get('/api/brands').expect(200);
    const head = await t.http.head('/api/brands').expect(200);
    expect(guardCalls).toHaveBeenCalledTimes(1);
    expect(head.text ?? '').toBe('');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    expect(head.headers.etag).toBe(get.headers.etag);
  });

  it("keeps the caller's request id, and answers a known ETag with an empty 304", async () => {
    const first = await t.http.get('/api/brands').set('X-Request-Id', 'poll-42').expect(200);
    expect(first.headers['x-request-id']).toBe('poll-42');
    const again = await t.http.get('/api/brands').set('If-None-Match', first.headers.etag).expect(304);
    expect(again.text ?? '').toBe('');
    expect(guardCalls).not.toHaveBeenCalled();
  });

  it('lets in only whom the guard lets in: no token, a forged, a revoked token or a disabled user get the 401 of the chain', async () => {
    const none = await t.anonymous.get('/api/brands').expect(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body).toMatchObject({ statusCode: 401, request_id: none.headers['x-request-id'] });
    await t.anonymous.get('/api/brands').set('Authorization', `Bearer ${t.adminToken}x`).expect(401);

    const session = await t.login('vera', 'viewer-password');
    const viewer = await t.anonymous.get('/api/servers').set('Authorization', `Bearer ${session}`).expect(200);
    expect(viewer.body).toEqual([expect.objectContaining({ name: 'gpu-1' })]);
    await t.anonymous.post('/api/auth/logout').set('Authorization', `Bearer ${session}`).expect(200);
    await t.anonymous.get('/api/servers').set('Authorization', `Bearer ${session}`).expect(401);

    const other = await t.login('vera', 'viewer-password');
    const [{ id }] = await t.sql<{ id: number }>(`SELECT id FROM users WHERE username = 'vera'`);
    await t.http.put(`/api/users/${id}`).send({ disabled: true }).expect(200);
    await t.anonymous.get('/api/servers').set('Authorization', `Bearer ${other}`).expect(401);
  });

  it('leaves a request from another origin to the chain and its CORS answer', async () => {
    const crossSite = await t.http.get('/api/brands').set('Origin', 'https://elsewhere.example').expect(200);
    expect(guardCalls).toHaveBeenCalledTimes(1);
    expect(crossSite.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('leaves a failing read to the chain, which answers it', async () => {
    // A database that fails one read cannot be caused for real here: the lane's read fails, the chain's succeeds.
    const failing = jest.spyOn(BrandsService.prototype, 'listJson').mockRejectedValueOnce(new Error('database is locked'));
    try {
      const timedBefore = await timedRequests('/api/brands');
      const response = await t.http.get('/api/brands').expect(200);
      expect(response.body).toEqual([expect.objectContaining({ name: 'Ascend' })]);
      expect(failing).toHaveBeenCalledTimes(2);
      expect(guardCalls).toHaveBeenCalledTimes(1);
      // Timed by the chain that answered it, not a second time by the lane that gave it up.
      expect(await timedRequests('/api/brands')).toBe(timedBefore + 1);
    } finally {
      failing.mockRestore();
    }
  });

  it('times its answers under the route in /metrics, as the chain does', async () => {
    const before = await timedRequests('/api/models');
    await t.http.get('/api/models').expect(200);
    await t.http.get('/api/models?through=chain').expect(200);
    expect(await timedRequests('/api/models')).toBe(before + 2);
  });

  it('times a caller that leaves while the lane reads, as the chain would', async () => {
    const server: Server = t.app.getHttpServer();
    if (server.address() === null) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const list = await t.app.get(BrandsService).listJson();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    const heldRead = jest.spyOn(BrandsService.prototype, 'listJson').mockImplementationOnce(async () => {
      started();
      await held;
      return list;
    });
    const answerClosed = once(server, 'request').then((args) => once(args[1] as ServerResponse, 'close'));
    const before = await timedRequests('/api/brands');
    try {
      const caller = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/brands`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      caller.on('error', () => undefined);
      await reading;
      caller.destroy();
      await answerClosed;
      expect(await timedRequests('/api/brands')).toBe(before + 1);
    } finally {
      release();
      heldRead.mockRestore();
    }
  });
});
