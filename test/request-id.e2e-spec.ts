import { DataSource } from 'typeorm';
import { RequestIdLogger } from '../src/common/request-id-logger';
import { startTestApp, TestApp } from './helpers/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('X-Request-Id', () => {
  let t: TestApp;
  /** Every line the application logged, as printed. */
  const lines: string[] = [];
  const linesWith = (requestId: string) => lines.filter((line) => line.includes(`request_id=${requestId} `));

  beforeAll(async () => {
    // Printed through console (not the process's streams, which jest's own reporter writes to), so it can be read here.
    const logger = new RequestIdLogger({ logLevels: ['fatal', 'error', 'warn', 'log', 'debug'], forceConsole: true, colors: false });
    for (const method of ['log', 'error'] as const)
      jest.spyOn(console, method).mockImplementation((...printed: unknown[]) => void lines.push(printed.join(' ')));
    t = await startTestApp({ LOG_LEVEL: 'debug' }, logger);
  });
  afterAll(async () => {
    await t?.close();
    jest.restoreAllMocks();
  });

  it('is generated for a request that brings none, a new one each time', async () => {
    const first = await t.http.get('/api/health').expect(200);
    const second = await t.http.get('/api/health').expect(200);
    expect(first.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
  });

  it("keeps a caller's short, plain id, so that a proxy's id names the request here too", async () => {
    const res = await t.http.get('/api/health').set('X-Request-Id', 'lb-2024.07_a1').expect(200);
    expect(res.headers['x-request-id']).toBe('lb-2024.07_a1');
  });

  it.each([
    ['too long', 'a'.repeat(65)],
    ['spaced (it could forge a log line)', 'abc request_id=other'],
    ['markup', '<script>'],
  ])('replaces a caller id that is %s by a generated one', async (_why, offered) => {
    const res = await t.http.get('/api/health').set('X-Request-Id', offered).expect(200);
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('is on answers given before any route: a CORS preflight, an unknown path, malformed JSON; browsers may read it', async () => {
    const preflight = await t.anonymous
      .options('/api/brands')
      .set('Origin', 'http://localhost:8080')
      .set('Access-Control-Request-Method', 'POST')
      .expect(204);
    expect(preflight.headers['x-request-id']).toMatch(UUID);
    const simple = await t.http.get('/api/health').set('Origin', 'http://localhost:8080').expect(200);
    expect(simple.headers['access-control-expose-headers']).toMatch(/X-Request-Id/i);
    expect((await t.http.get('/api/nothing-here').expect(404)).headers['x-request-id']).toMatch(UUID);
    const malformed = await t.http.post('/api/brands').set('Content-Type', 'application/json').send('{"name":').expect(400);
    expect(malformed.headers['x-request-id']).toMatch(UUID);
    // Errors rejected before any route (body parsing) carry it in the body too, to quote.
    expect(malformed.body.request_id).toBe(malformed.headers['x-request-id']);
    const refused = await t.http.post('/api/brands').set('X-Request-Id', 'quote-me-1').send({ name: '' }).expect(400);
    expect(refused.body).toMatchObject({ statusCode: 400, request_id: 'quote-me-1' });
  });

  it('is in the log lines of the request, logged after its body was read', async () => {
    await t.anonymous
      .post('/api/auth/login')
      .set('X-Request-Id', 'login-attempt-1')
      .send({ username: 'admin', password: 'wrong-password' })
      .expect(401);
    // The request line is logged once the answer is sent.
    await new Promise((resolve) => setImmediate(resolve));
    expect(linesWith('login-attempt-1')).toEqual([expect.stringMatching(/\[HTTP\] request_id=login-attempt-1 POST \/api\/auth\/login 401/)]);
  });

  it('keeps the OpenAI shape of the OpenAI-compatible routes, with the id in the header as OpenAI sends it', async () => {
    const res = await t.http
      .post('/api/services/999999/chat/completions')
      .set('X-Request-Id', 'chat-1')
      .send({ messages: [{ role: 'user', content: 'hi' }] })
      .expect(404);
    expect(res.headers['x-request-id']).toBe('chat-1');
    expect(res.body).toEqual({ error: expect.objectContaining({ code: 'service_not_found' }) });
  });

  // Last: it takes the database away from this application.
  it('is in the body of a server error, to quote, and names the logged failure', async () => {
    await t.app.get(DataSource).destroy();
    const res = await t.http.get('/api/health').expect(503);
    const requestId = res.headers['x-request-id'];
    expect(res.body).toEqual({ statusCode: 503, error: 'Database unavailable', request_id: requestId });
    await new Promise((resolve) => setImmediate(resolve));
    expect(linesWith(requestId)).toEqual(
      expect.arrayContaining([expect.stringMatching(/ERROR \[Exceptions\] request_id=\S+ GET \/api\/health failed/)]),
    );
  });
});
