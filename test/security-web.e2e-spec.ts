import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, Socket } from 'socket.io-client';
import request from 'supertest';
import { CapturingLogger } from './helpers/capturing-logger';
import { startTestApp, TestApp } from './helpers/test-app';

/**
 * The web attack surface: cross-site requests riding on the cookie (or on no authentication at all), socket
 * hijacking, malformed bodies, and secrets at rest and in the log. Each case is what an attacker tried.
 */

const EVIL = 'http://evil.example';
/** In the default CORS_ORIGINS: the admin UI's dev server. */
const ADMIN_UI = 'http://localhost:8080';
const PNG = readFileSync(join(__dirname, 'fixtures/logo.png'));

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
}

type Transport = 'websocket' | 'polling';

/** Resolves 'connected' or the connect_error's message; the socket is closed either way. */
function handshake(url: string, transport: Transport, options: { headers?: Record<string, string>; token?: string }): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = io(url, {
      transports: [transport],
      reconnection: false,
      forceNew: true,
      extraHeaders: options.headers,
      auth: options.token ? { token: options.token } : undefined,
    });
    const finish = (outcome: string) => {
      socket.close();
      resolve(outcome);
    };
    socket.once('connect', () => finish('connected'));
    socket.once('connect_error', (error) => finish(error.message));
  });
}

const usernames = async (t: TestApp): Promise<string[]> =>
  ((await t.http.get('/api/users').expect(200)).body as { username: string }[]).map((user) => user.username);

describe('cross-site requests with authentication on', () => {
  let t: TestApp;
  let url: string;
  let cookie: string;
  let apiToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    url = await listen(t);
    const login = await t.anonymous.post('/api/auth/login').send({ username: 'admin', password: 'admin-test-password' }).expect(200);
    cookie = `infini_token=${login.body.access_token}`;
    apiToken = (await t.http.post('/api/auth/tokens').send({ name: 'script' }).expect(201)).body.token;
  });
  afterAll(() => t.close());

  const post = (path: string, headers: Record<string, string>) => {
    const call = request(url).post(path);
    for (const [name, value] of Object.entries(headers)) call.set(name, value);
    return call;
  };

  it('refuses a cookie-authenticated form post from a foreign Origin (the admin-creation attack) with 403 and creates nobody', async () => {
    const res = await post('/api/users', { Cookie: cookie, Origin: EVIL })
      .type('form')
      .send('username=intruder&password=intruder-password&role=admin')
      .expect(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: expect.stringMatching(/cross-site request refused.*evil\.example/i),
      request_id: expect.any(String),
    });
    const json = await post('/api/users', { Cookie: cookie, Origin: EVIL })
      .send({ username: 'intruder', password: 'intruder-password', role: 'admin' })
      .expect(403);
    expect(json.body.error).toMatch(/CORS_ORIGINS/);
    expect(await usernames(t)).toEqual(['admin']);
  });

  it('refuses token creation, task execution, service stop and logout by the cookie from a foreign Origin; the session lives on', async () => {
    const before = (await t.http.get('/api/auth/tokens').expect(200)).body.length;
    for (const path of ['/api/auth/tokens', '/api/tasks/1/execute', '/api/services/1/stop', '/api/auth/logout']) {
      const res = await post(path, { Cookie: cookie, Origin: EVIL }).send({ name: 'stolen' });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    const deleted = await request(url).delete('/api/users/1').set('Cookie', cookie).set('Origin', EVIL);
    expect(deleted.status).toBe(403);
    expect((await t.http.get('/api/auth/tokens').expect(200)).body).toHaveLength(before);
    // The forged logout did not end the session.
    expect((await request(url).get('/api/auth/me').set('Cookie', cookie).expect(200)).body.username).toBe('admin');
  });

  it('refuses the cookie without Origin and Referer, and judges by Referer when Origin is missing', async () => {
    const bare = await post('/api/brands', { Cookie: cookie }).send({ name: 'Bare' }).expect(403);
    expect(bare.body.error).toMatch(/without Origin or Referer/);
    await post('/api/brands', { Cookie: cookie, Referer: `${EVIL}/page.html` })
      .send({ name: 'Referred' })
      .expect(403);
    await post('/api/brands', { Cookie: cookie, Origin: 'null' }).send({ name: 'Sandboxed' }).expect(403);
    await post('/api/brands', { Cookie: cookie, Referer: `${ADMIN_UI}/#/brands` })
      .send({ name: 'From the UI by Referer' })
      .expect(201);
    const names = ((await t.http.get('/api/brands').expect(200)).body as { name: string }[]).map((brand) => brand.name);
    expect(names).toEqual(['From the UI by Referer']);
  });

  it("accepts the cookie from the backend's own origin and from CORS_ORIGINS", async () => {
    await post('/api/brands', { Cookie: cookie, Origin: url }).send({ name: 'Same origin' }).expect(201);
    await post('/api/brands', { Cookie: cookie, Origin: ADMIN_UI }).send({ name: 'Admin UI' }).expect(201);
    await request(url)
      .delete(`/api/brands/${(await t.http.post('/api/brands').send({ name: 'Doomed' }).expect(201)).body.id}`)
      .set('Cookie', cookie)
      .set('Origin', url)
      .expect(200);
  });

  it('lets bearer login tokens and API tokens through from any origin (a foreign page cannot send them)', async () => {
    await post('/api/brands', { Authorization: `Bearer ${t.adminToken}`, Origin: EVIL, Cookie: cookie })
      .send({ name: 'Bearer' })
      .expect(201);
    await post('/api/brands', { Authorization: `Bearer ${apiToken}`, Origin: EVIL })
      .send({ name: 'API token' })
      .expect(201);
  });

  it('no longer reads form bodies: a urlencoded post gets 415 and changes nothing', async () => {
    const res = await post('/api/brands', { Authorization: `Bearer ${t.adminToken}` })
      .type('form')
      .send('name=Formed')
      .expect(415);
    expect(res.body.error).toMatch(/application\/json/);
    const names = ((await t.http.get('/api/brands').expect(200)).body as { name: string }[]).map((brand) => brand.name);
    expect(names).not.toContain('Formed');
  });

  it('documents the rule in the OpenAPI description', async () => {
    const document = (await t.http.get('/api/docs-json').expect(200)).body as { info: { description: string } };
    expect(document.info.description).toMatch(/cookie.*Origin/s);
  });

  describe.each(['websocket', 'polling'] as const)('socket handshakes over %s', (transport) => {
    it('refuses the cookie from a foreign Origin or with no Origin, with a connect_error that says why', async () => {
      expect(await handshake(url, transport, { headers: { Cookie: cookie, Origin: EVIL } })).toMatch(/cross-site request refused.*evil\.example/i);
      expect(await handshake(url, transport, { headers: { Cookie: cookie } })).toMatch(/without Origin or Referer/);
    });

    it('accepts the cookie from an allowed Origin, and a token from any Origin', async () => {
      expect(await handshake(url, transport, { headers: { Cookie: cookie, Origin: ADMIN_UI } })).toBe('connected');
      expect(await handshake(url, transport, { headers: { Cookie: cookie, Origin: url } })).toBe('connected');
      expect(await handshake(url, transport, { headers: { Origin: EVIL }, token: t.adminToken })).toBe('connected');
      expect(await handshake(url, transport, { headers: { Origin: EVIL, Authorization: `Bearer ${apiToken}` } })).toBe('connected');
    });
  });
});

describe('cross-site requests with authentication off', () => {
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await startTestApp({ AUTH_ENABLED: 'false' });
    url = await listen(t);
  });
  afterAll(() => t.close());

  const brandNames = async () => ((await t.http.get('/api/brands').expect(200)).body as { name: string }[]).map((brand) => brand.name);

  it('refuses JSON and multipart posts that name a foreign Origin, and accepts scripts (no Origin) and the admin UI', async () => {
    await request(url).post('/api/brands').set('Origin', EVIL).send({ name: 'Forged JSON' }).expect(403);
    const multipart = await request(url)
      .post('/api/brands')
      .set('Origin', EVIL)
      .field('name', 'Forged multipart')
      .attach('logo_file', PNG, 'logo.png')
      .expect(403);
    expect(multipart.body.error).toMatch(/cross-site request refused/i);
    await request(url).post('/api/upload').set('Origin', EVIL).attach('file', PNG, 'logo.png').expect(403);
    await request(url).post('/api/brands').send({ name: 'Script' }).expect(201);
    await request(url).post('/api/brands').set('Origin', ADMIN_UI).field('name', 'Admin UI').expect(201);
    expect((await brandNames()).filter((name) => name !== 'Own origin').sort()).toEqual(['Admin UI', 'Script']);
    const uploads = join(t.dataDir, 'uploads');
    expect(existsSync(uploads) ? readdirSync(uploads) : []).toEqual([]);
  });

  it("takes the backend's own origin under an address, but not under a host name a page could rebind to this machine", async () => {
    await request(url).post('/api/brands').set('Origin', url).send({ name: 'Own origin' }).expect(201);
    const port = new URL(url).port;
    const rebound = await request(url)
      .post('/api/brands')
      .set('Host', `evil.example:${port}`)
      .set('Origin', `http://evil.example:${port}`)
      .send({ name: 'Rebound' })
      .expect(403);
    expect(rebound.body.error).toMatch(/cross-site request refused/i);
    expect(await handshake(url, 'polling', { headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } })).toMatch(
      /cross-site request refused/i,
    );
    expect(await brandNames()).toContain('Own origin');
    expect(await brandNames()).not.toContain('Rebound');
  });

  it('still answers reads from any origin (CORS decides what a page may read)', async () => {
    await request(url).get('/api/brands').set('Origin', EVIL).expect(200);
  });

  describe.each(['websocket', 'polling'] as const)('socket handshakes over %s', (transport) => {
    it('refuses a foreign Origin whatever it sends, and accepts no Origin or an allowed one', async () => {
      expect(await handshake(url, transport, { headers: { Origin: EVIL } })).toMatch(/cross-site request refused/i);
      expect(await handshake(url, transport, { headers: { Origin: EVIL }, token: 'anything' })).toMatch(/cross-site request refused/i);
      expect(await handshake(url, transport, {})).toBe('connected');
      expect(await handshake(url, transport, { headers: { Origin: ADMIN_UI } })).toBe('connected');
    });
  });
});

describe('malformed bodies', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const nested = (depth: number) => `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;

  it('refuses JSON nested 5000 levels deep with 400, also on the public sign-in route, and still takes sane nesting', async () => {
    for (const [path, call] of [
      ['/api/auth/login', t.anonymous.post('/api/auth/login')],
      ['/api/brands', t.http.post('/api/brands')],
      ['/api/services/1/chat/completions', t.http.post('/api/services/1/chat/completions')],
    ] as const) {
      const res = await call.set('Content-Type', 'application/json').send(nested(5000));
      expect({ path, status: res.status, error: res.body.error }).toEqual({
        path,
        status: 400,
        error: expect.stringMatching(/nested deeper than 32 levels/),
      });
    }
    // Sane nesting still reaches validation, which names the field.
    const shallow = await t.http.post('/api/brands').set('Content-Type', 'application/json').send(nested(20)).expect(400);
    expect(shallow.body.details[0].field).toBe('name');
    const brand = (await t.http.post('/api/brands').send({ name: 'Nested' }).expect(201)).body.id;
    await t.http
      .post('/api/brands/reorder')
      .send({ orders: [{ id: brand, sort_order: 3 }] })
      .expect(200);
  });

  it('answers null for a field that cannot be empty with 400 naming it, and changes nothing', async () => {
    const user = (await t.http.post('/api/users').send({ username: 'nora', password: 'nora-password', role: 'operator' }).expect(201)).body.id;
    for (const field of ['password', 'username', 'role', 'disabled']) {
      const res = await t.http
        .put(`/api/users/${user}`)
        .send({ [field]: null })
        .expect(400);
      expect(res.body.details).toEqual([{ field, messages: [`${field} must not be null`] }]);
    }
    await t.login('nora', 'nora-password');
    const server = (await t.http.post('/api/servers').send({ name: 'gpu', host_ip: '127.0.0.1', username: 'root', password: 'pw' }).expect(201)).body
      .id;
    for (const field of ['port', 'agent_port', 'chat_port', 'auth_type']) {
      const res = await t.http
        .put(`/api/servers/${server}`)
        .send({ [field]: null })
        .expect(400);
      expect(res.body.details).toEqual([{ field, messages: [`${field} must not be null`] }]);
    }
    const task = (await t.http.post('/api/tasks').send({ name: 'job', command: 'true', server_id: server, schedule_type: 'daily' }).expect(201)).body
      .id;
    for (const field of ['enabled', 'timeout_seconds']) {
      const res = await t.http
        .put(`/api/tasks/${task}`)
        .send({ [field]: null })
        .expect(400);
      expect(res.body.details).toEqual([{ field, messages: [`${field} must not be null`] }]);
    }
    await t.http.post('/api/auth/tokens').send({ name: 'x', role: null }).expect(400);
    expect((await t.http.get(`/api/servers/${server}`).expect(200)).body).toMatchObject({
      port: 22,
      agent_port: 8888,
      chat_port: 8000,
      auth_type: 'password',
    });
    expect((await t.http.get(`/api/tasks/${task}`).expect(200)).body).toMatchObject({ enabled: true, timeout_seconds: 3600 });
  });

  it('refuses NUL characters anywhere in a JSON body or a query string with 400 naming the field (PostgreSQL cannot store them)', async () => {
    const login = await t.anonymous.post('/api/auth/login').send({ username: 'ad\u0000min', password: 'whatever' }).expect(400);
    expect(login.body).toEqual({
      statusCode: 400,
      error: 'username must not contain NUL characters',
      request_id: expect.any(String),
      details: [{ field: 'username', messages: ['username must not contain NUL characters'] }],
    });
    const nested = await t.http
      .post('/api/services/1/chat/completions')
      .send({ messages: [{ role: 'user', content: 'a\u0000b' }] })
      .expect(400);
    expect(nested.body.error).toBe('messages.0.content must not contain NUL characters');
    const query = await t.http.get('/api/audit?user=a%00b').expect(400);
    expect(query.body.error).toBe('Query parameter user must not contain NUL characters');
  });

  it('says a missing field is required rather than quoting its length rule', async () => {
    const res = await t.anonymous.post('/api/auth/login').send({ password: 'whatever' }).expect(400);
    expect(res.body.details).toEqual([{ field: 'username', messages: ['username is required'] }]);
  });

  it('answers 415 to a PUT with a text or XML body and changes nothing', async () => {
    const brand = (await t.http.post('/api/brands').send({ name: 'Original' }).expect(201)).body.id;
    for (const [type, body] of [
      ['text/plain', 'name=Changed'],
      ['application/xml', '<brand><name>Changed</name></brand>'],
    ]) {
      const res = await t.http.put(`/api/brands/${brand}`).set('Content-Type', type).send(body).expect(415);
      expect(res.body.error).toContain(type);
    }
    expect(((await t.http.get('/api/brands').expect(200)).body as { id: number; name: string }[]).find((row) => row.id === brand)?.name).toBe(
      'Original',
    );
  });

  it('answers 415 to multipart sent to a route that reads only JSON, and still takes it where uploads are declared', async () => {
    const server = (await t.http.post('/api/servers').send({ name: 'json-only', host_ip: '127.0.0.1', username: 'root' }).expect(201)).body.id;
    const res = await t.http.put(`/api/servers/${server}`).field('name', 'changed').expect(415);
    expect(res.body.error).toMatch(/takes application\/json/);
    expect((await t.http.get(`/api/servers/${server}`).expect(200)).body.name).toBe('json-only');
    await t.http.post('/api/brands').field('name', 'Multipart brand').expect(201);
  });

  it('refuses control, bidi and zero-width characters and lone surrogates in host names and other names', async () => {
    for (const host_ip of ['gpu\u200b01', 'gpu\u202e01', 'gpu\u0007', 'gp\u0440u', '127.0.0.1\u200b']) {
      const res = await t.http.post('/api/servers').send({ name: 'gpu', host_ip, username: 'root' });
      expect({ host_ip, status: res.status }).toEqual({ host_ip, status: 400 });
    }
    const loneSurrogate = await t.http
      .post('/api/servers')
      .set('Content-Type', 'application/json')
      .send('{"name":"gpu","host_ip":"gpu\\ud800","username":"root"}')
      .expect(400);
    expect(loneSurrogate.body.details[0].field).toBe('host_ip');
    for (const name of ['admin\u202egnp.exe', 'zero\u200bwidth', 'bell\u0007', 'half\ud800']) {
      const res = await t.http.post('/api/brands').send({ name }).expect(400);
      expect(res.body.error).toMatch(/control, bidi or zero-width/);
    }
    await t.http.post('/api/brands').send({ name: '华为 Ascend 😀' }).expect(201);
  });

  it('parses dates strictly: "1", -1 and February 30th are 400, ISO 8601 is taken', async () => {
    const server = (await t.http.post('/api/servers').send({ name: 'dates', host_ip: '127.0.0.1', username: 'root' }).expect(201)).body.id;
    for (const run_at of ['1', '-1', '2026-02-30T00:00:00Z', '2026-13-01', 'tomorrow', 1]) {
      const res = await t.http.post('/api/tasks').send({ name: 'once', command: 'true', server_id: server, schedule_type: 'once', run_at });
      expect({ run_at, status: res.status }).toEqual({ run_at, status: 400 });
    }
    for (const query of ['to=-1', 'from=1', 'from=2026-02-30']) {
      const res = await t.http.get(`/api/audit?${query}`).expect(400);
      expect(res.body.error).toMatch(/ISO 8601/);
    }
    await t.http.get('/api/audit?from=2026-01-01&to=2026-12-01T08:00:00%2B08:00').expect(200);
    await t.http.post('/api/auth/tokens').send({ name: 'dated', expires_at: '99' }).expect(400);
    const task = await t.http
      .post('/api/tasks')
      .send({ name: 'once', command: 'true', server_id: server, schedule_type: 'once', run_at: '2099-12-01T08:00:00Z', enabled: false })
      .expect(201);
    expect((await t.http.get(`/api/tasks/${task.body.id}`).expect(200)).body.run_at).toBe('2099-12-01T08:00:00.000Z');
  });

  it("puts helmet's headers on every answer, the body parser's and the guards' errors included", async () => {
    const answers = [
      await t.http.post('/api/brands').set('Content-Type', 'application/json').send('{"name":'),
      await t.http
        .post('/api/brands')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })),
      await t.http.post('/api/brands').set('Content-Type', 'text/plain').send('x'),
      await t.anonymous.get('/api/brands'),
    ];
    expect(answers.map((res) => res.status)).toEqual([400, 413, 415, 401]);
    for (const res of answers) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    }
  });
});

describe('secrets at rest and in the log', () => {
  const logger = new CapturingLogger();
  let t: TestApp;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'infini-modes-')), 'created', 'data');
    t = await startTestApp({ DATA_DIR: dataDir, LOG_LEVEL: 'debug' }, logger);
  });
  afterAll(() => t.close());

  const mode = (path: string) => statSync(path).mode & 0o777;

  it('creates DATA_DIR, the database and the keys owner-only, and keeps uploads readable', async () => {
    // A server's secret makes the encryption key.
    await t.http.post('/api/servers').send({ name: 'gpu', host_ip: '127.0.0.1', username: 'root', password: 'pw' }).expect(201);
    expect(mode(dataDir)).toBe(0o700);
    const expected = ['jwt.secret', 'encryption.key', ...(process.env.DATABASE_URL ? [] : ['infini.db', 'infini.db-wal', 'infini.db-shm'])];
    for (const file of expected) expect({ file, mode: mode(join(dataDir, file)).toString(8) }).toEqual({ file, mode: '600' });
    const uploaded = (await t.http.post('/api/upload').attach('file', PNG, 'logo.png').expect(200)).body.filename as string;
    expect(mode(join(dataDir, 'uploads', uploaded))).toBe(0o644);
  });

  it('logs no secret of a refused body under an invented name, nor a token in a query string', async () => {
    const canaries = ['canary-pass-word', 'canary-pwd', 'canary-key', 'canary-pem', 'canary-query-token', 'canary-api-key'];
    await t.http
      .post('/api/servers')
      .send({
        name: 'x',
        host_ip: '127.0.0.1',
        username: 'root',
        pass_word: canaries[0],
        pwd: canaries[1],
        key: canaries[2],
        private_key_pem: canaries[3],
      })
      .expect(400);
    await t.http.get(`/api/brands?token=${canaries[4]}&api_key=${canaries[5]}`).expect(200);
    await t.http.get(`/api/brands?t=${t.adminToken}`).expect(200);
    const log = logger.lines.join('\n');
    expect(log).toMatch(/POST \/api\/servers 400/);
    expect(log).toMatch(/GET \/api\/brands\?token=\*\*\*/);
    for (const secret of [...canaries, t.adminToken]) expect({ secret, logged: log.includes(secret) }).toEqual({ secret, logged: false });
  });
});
