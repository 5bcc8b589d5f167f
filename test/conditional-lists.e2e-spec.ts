import { startTestApp, TestApp } from './helpers/test-app';

/** The lists and the overview the admin UI polls answer with a strong ETag, and with an empty 304 when the client already has them. */
describe('conditional list requests', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  const lists: Array<[string, () => Promise<unknown>]> = [
    [
      '/api/brands',
      () =>
        t.http
          .post('/api/brands')
          .send({ name: `brand-${Date.now()}` })
          .expect(201),
    ],
    [
      '/api/models',
      () =>
        t.http
          .post('/api/models')
          .send({ name: `model-${Date.now()}` })
          .expect(201),
    ],
    [
      '/api/servers',
      () =>
        t.http
          .post('/api/servers')
          .send({ name: `gpu-${Date.now()}`, host_ip: '127.0.0.1', username: 'u' })
          .expect(201),
    ],
  ];

  it.each(lists)('%s: a strong ETag, 304 while it holds, a new one after a change', async (path, change) => {
    const first = await t.http.get(path).expect(200);
    const etag = first.headers.etag;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Array.isArray(first.body)).toBe(true);

    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await t.http.get(path).set('If-None-Match', ifNoneMatch).expect(304);
      expect(again.text ?? '').toBe('');
      expect(again.headers.etag).toBe(etag);
    }
    await t.http.get(path).set('If-None-Match', '"other"').expect(200);

    await change();
    const changed = await t.http.get(path).set('If-None-Match', etag).expect(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body).toHaveLength(first.body.length + 1);
  });

  it('/api/stats: the overview the dashboard polls has a strong ETag too, renewed when a server is added', async () => {
    const first = await t.http.get('/api/stats').expect(200);
    const etag = first.headers.etag;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    await t.http.get('/api/stats').set('If-None-Match', etag).expect(304);

    await t.http
      .post('/api/servers')
      .send({ name: `gpu-${Date.now()}`, host_ip: '127.0.0.1', username: 'u' })
      .expect(201);
    const changed = await t.http.get('/api/stats').set('If-None-Match', etag).expect(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body).toEqual({ ...first.body, server_count: (first.body as { server_count: number }).server_count + 1 });
  });
});
