import { decode, sign } from 'jsonwebtoken';
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { io, Socket } from 'socket.io-client';
import type { Response } from 'supertest';
import { ServiceOperations } from '../src/modules/services/service-operations.service';
import { describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { CapturingLogger } from './helpers/capturing-logger';
import { placeholder, startTestApp, TEST_ADMIN, TestApp } from './helpers/test-app';

interface AuditEvent {
  id: number;
  at: string;
  user: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

/** Keeps every log line, to look for secrets in them. */
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Creates a user as the admin and signs them in; returns their id and token. */
async function addUser(t: TestApp, username: string, role: string, password = `${username}-password`): Promise<{ id: number; token: string }> {
  const { id } = (await t.http.post('/api/users').send({ username, password, role }).expect(201)).body as { id: number };
  return { id, token: await t.login(username, password) };
}

async function auditEvents(t: TestApp, query = ''): Promise<AuditEvent[]> {
  return ((await t.http.get(`/api/audit?per_page=500${query}`).expect(200)).body as { events: AuditEvent[] }).events;
}

async function lastEvent(t: TestApp, action: string): Promise<AuditEvent | undefined> {
  return (await auditEvents(t, `&action=${action}`))[0];
}

describe('authentication', () => {
  describe('sign-in, sessions and the caller', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ LOGIN_RATE_LIMIT_PER_USER: '50', LOGIN_RATE_LIMIT_PER_IP: '100' });
    });
    afterAll(() => t.close());

    it('signs in with a bearer token and an HttpOnly, SameSite=Strict cookie, whatever the case of the username', async () => {
      const res = await t.anonymous.post('/api/auth/login').send({ username: 'ADMIN', password: TEST_ADMIN.password }).expect(200);
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^eyJ/),
        token_type: 'Bearer',
        expires_in: 43200,
        user: { id: 1, username: 'admin', role: 'admin' },
      });
      const cookie = (res.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('infini_token='))!;
      expect(cookie).toContain(`infini_token=${res.body.access_token}`);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/Path=\//);
      const me = await t.anonymous.get('/api/auth/me').set(bearer(res.body.access_token)).expect(200);
      expect(me.body).toEqual({ id: 1, username: 'admin', role: 'admin', auth_enabled: true });
    });

    it('authenticates a request by the cookie alone', async () => {
      const res = await t.anonymous.post('/api/auth/login').send(TEST_ADMIN).expect(200);
      const cookie = `infini_token=${res.body.access_token}`;
      expect((await t.anonymous.get('/api/auth/me').set('Cookie', cookie).expect(200)).body.username).toBe('admin');
      await t.anonymous.get('/api/auth/me').set('Cookie', 'infini_token=forged').expect(401);
    });

    it('refuses a wrong password and an unknown user alike, and a disabled account only to someone who knows its password', async () => {
      const wrong = await t.anonymous.post('/api/auth/login').send({ username: 'admin', password: 'not-the-password' }).expect(401);
      const unknown = await t.anonymous.post('/api/auth/login').send({ username: 'nobody', password: 'not-the-password' }).expect(401);
      expect(wrong.body).toEqual({ statusCode: 401, error: 'Invalid username or password', request_id: expect.any(String) });
      // Alike but for the request id each answer carries.
      expect(unknown.body).toEqual({ ...wrong.body, request_id: unknown.headers['x-request-id'] });
      expect(wrong.headers['set-cookie']).toBeUndefined();

      const { id } = await addUser(t, 'dora', 'operator');
      await t.http.put(`/api/users/${id}`).send({ disabled: true }).expect(200);
      expect((await t.anonymous.post('/api/auth/login').send({ username: 'dora', password: 'wrong-password' }).expect(401)).body.error).toBe(
        'Invalid username or password',
      );
      expect((await t.anonymous.post('/api/auth/login').send({ username: 'dora', password: 'dora-password' }).expect(401)).body.error).toBe(
        'This account is disabled',
      );
    });

    it('rejects malformed sign-in bodies with a 400 naming the field', async () => {
      const res = await t.anonymous.post('/api/auth/login').send({ username: 'admin' }).expect(400);
      expect(JSON.stringify(res.body.details)).toContain('password');
      await t.anonymous.post('/api/auth/login').send({ username: 'admin', password: 42 }).expect(400);
    });

    it('ends a session at logout: the token is refused afterwards and the cookie is cleared; other sessions live on', async () => {
      const token = await t.login(TEST_ADMIN.username, TEST_ADMIN.password);
      const other = await t.login(TEST_ADMIN.username, TEST_ADMIN.password);
      const res = await t.anonymous.post('/api/auth/logout').set(bearer(token)).expect(200);
      expect((res.headers['set-cookie'] as unknown as string[]).join()).toMatch(/infini_token=;/);
      await t.anonymous.get('/api/auth/me').set(bearer(token)).expect(401);
      await t.anonymous.get('/api/auth/me').set(bearer(other)).expect(200);
    });

    it('refuses expired, foreign-signed and unsigned login tokens', async () => {
      const secret = readFileSync(join(t.dataDir, 'jwt.secret'), 'utf8').trim();
      const expired = sign({ sub: '1', pwd: 0, jti: 'old', exp: Math.floor(Date.now() / 1000) - 5 }, secret, { algorithm: 'HS256' });
      const foreign = sign({ sub: '1', pwd: 0, jti: 'x' }, 'some-other-secret-that-is-long-enough', { algorithm: 'HS256', expiresIn: 60 });
      const unsigned = sign({ sub: '1', pwd: 0, jti: 'y' }, '', { algorithm: 'none' as never, expiresIn: 60 });
      for (const token of [expired, foreign, unsigned]) {
        const res = await t.anonymous.get('/api/servers').set(bearer(token)).expect(401);
        expect(res.body.error).toMatch(/invalid, expired or revoked/i);
      }
    });

    it('refuses a login token it has accepted before once it expires', async () => {
      const secret = readFileSync(join(t.dataDir, 'jwt.secret'), 'utf8').trim();
      const { sub, pwd } = decode(await t.login(TEST_ADMIN.username, TEST_ADMIN.password)) as { sub: string; pwd: number };
      const exp = Math.floor(Date.now() / 1000) + 2;
      const shortLived = sign({ sub, pwd, jti: 'short-lived', exp }, secret, { algorithm: 'HS256' });
      await t.anonymous.get('/api/auth/me').set(bearer(shortLived)).expect(200);
      // Expiry is the passing of time itself: nothing to wait on but the clock.
      await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
      await t.anonymous.get('/api/auth/me').set(bearer(shortLived)).expect(401);
    });

    it('changes a password: a wrong current one is a 403; afterwards old sessions end, the new session and password work', async () => {
      const { token } = await addUser(t, 'paula', 'viewer');
      await t.anonymous
        .put('/api/auth/password')
        .set(bearer(token))
        .send({ current_password: 'wrong-password', new_password: 'paula-new-password' })
        .expect(403);
      await t.anonymous.put('/api/auth/password').set(bearer(token)).send({ current_password: 'paula-password', new_password: 'short' }).expect(400);
      await t.anonymous.get('/api/auth/me').set(bearer(token)).expect(200);

      const res = await t.anonymous
        .put('/api/auth/password')
        .set(bearer(token))
        .send({ current_password: 'paula-password', new_password: 'paula-new-password' })
        .expect(200);
      await t.anonymous.get('/api/auth/me').set(bearer(token)).expect(401);
      expect((await t.anonymous.get('/api/auth/me').set(bearer(res.body.access_token)).expect(200)).body.username).toBe('paula');
      await t.anonymous.post('/api/auth/login').send({ username: 'paula', password: 'paula-password' }).expect(401);
      await t.login('paula', 'paula-new-password');
    });
  });

  describe('API tokens', () => {
    let t: TestApp;
    let viewer: { id: number; token: string };
    let operator: { id: number; token: string };
    beforeAll(async () => {
      t = await startTestApp();
      viewer = await addUser(t, 'vic', 'viewer');
      operator = await addUser(t, 'otto', 'operator');
    });
    afterAll(() => t.close());

    const createToken = (token: string, body: Record<string, unknown>) => t.anonymous.post('/api/auth/tokens').set(bearer(token)).send(body);

    it('shows a new token once, stores only its hash, and accepts it as a bearer token with its own role', async () => {
      const res = await createToken(operator.token, { name: 'backup script', role: 'viewer' }).expect(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        name: 'backup script',
        role: 'viewer',
        user_id: operator.id,
        username: 'otto',
        expires_at: null,
        last_used_at: null,
        rpm_limit: null,
        tpm_limit: null,
        created_at: expect.any(String),
        token: expect.stringMatching(/^ist_[A-Za-z0-9_-]{43}$/),
      });
      const stored = await t.sql<{ token_hash: string }>('SELECT token_hash FROM api_tokens WHERE id = ' + res.body.id);
      expect(stored[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(stored[0].token_hash).not.toContain(res.body.token);

      const me = await t.anonymous.get('/api/auth/me').set(bearer(res.body.token)).expect(200);
      expect(me.body).toEqual({ id: operator.id, username: 'otto', role: 'viewer', auth_enabled: true, token_id: res.body.id });
      await t.anonymous.get('/api/servers').set(bearer(res.body.token)).expect(200);
      await t.anonymous.post('/api/brands').set(bearer(res.body.token)).send({ name: 'nope' }).expect(403);

      const list = await t.anonymous.get('/api/auth/tokens').set(bearer(operator.token)).expect(200);
      expect(list.body.map((token: { name: string }) => token.name)).toEqual(['backup script']);
      expect(JSON.stringify(list.body)).not.toContain(res.body.token);
      expect(list.body[0]).not.toHaveProperty('token_hash');
      expect(list.body[0].last_used_at).toEqual(expect.any(String));
    });

    it('never lets a token outrank its owner, now or after the owner is demoted', async () => {
      expect((await createToken(viewer.token, { name: 'escalate', role: 'admin' }).expect(403)).body.error).toMatch(/outrank/);
      const { body } = await createToken(operator.token, { name: 'ops', role: 'operator' }).expect(201);
      await t.anonymous.post('/api/brands').set(bearer(body.token)).send({ name: 'by token' }).expect(201);
      await t.http.put(`/api/users/${operator.id}`).send({ role: 'viewer' }).expect(200);
      await t.anonymous.post('/api/brands').set(bearer(body.token)).send({ name: 'after demotion' }).expect(403);
      expect((await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(200)).body.role).toBe('viewer');
      await t.http.put(`/api/users/${operator.id}`).send({ role: 'operator' }).expect(200);
    });

    it('refuses an expiry in the past, and the token once its expiry has passed', async () => {
      await createToken(operator.token, { name: 'late', expires_at: new Date(Date.now() - 1000).toISOString() }).expect(400);
      await createToken(operator.token, { name: 'bad date', expires_at: 'tomorrow' }).expect(400);
      const { body } = await createToken(operator.token, { name: 'short', expires_at: new Date(Date.now() + 60_000).toISOString() }).expect(201);
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(200);
      // Expire it in the database rather than wait for it.
      await t.sql(
        `UPDATE api_tokens SET expires_at = ${process.env.DATABASE_URL ? "now() - interval '1 second'" : "datetime('now', '-1 second')"} WHERE id = ${body.id}`,
      );
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(401);
    });

    it('revokes: the owner or an admin may, anyone else gets a 404; a revoked token is refused at once', async () => {
      const { body } = await createToken(operator.token, { name: 'to revoke' }).expect(201);
      await t.anonymous.delete(`/api/auth/tokens/${body.id}`).set(bearer(viewer.token)).expect(404);
      const everyone = await t.http.get('/api/auth/tokens').expect(200);
      expect(everyone.body.map((token: { id: number }) => token.id)).toContain(body.id);
      expect((await t.anonymous.get('/api/auth/tokens').set(bearer(viewer.token)).expect(200)).body).toEqual([]);

      await t.anonymous.delete(`/api/auth/tokens/${body.id}`).set(bearer(operator.token)).expect(200);
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(401);
      await t.http.delete(`/api/auth/tokens/${body.id}`).expect(404);
    });
  });

  describe('users', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(() => t.close());

    it('lists, creates and updates users without ever returning a password hash', async () => {
      const { id } = await addUser(t, 'uma', 'operator');
      await t.http.post('/api/users').send({ username: 'UMA', password: 'another-password', role: 'viewer' }).expect(409);
      await t.http.post('/api/users').send({ username: 'bad name!', password: 'another-password', role: 'viewer' }).expect(400);
      await t.http.post('/api/users').send({ username: 'ursula', password: 'another-password', role: 'root' }).expect(400);
      await t.http.put(`/api/users/${id}`).send({ role: 'viewer', username: 'uma2' }).expect(200);
      const res = await t.http.get('/api/users').expect(200);
      expect(res.body).toEqual([
        { id: 1, username: 'admin', role: 'admin', disabled: false, created_at: expect.any(String) },
        { id, username: 'uma2', role: 'viewer', disabled: false, created_at: expect.any(String) },
      ]);
      expect(JSON.stringify(res.body)).not.toMatch(/scrypt|password/);
    });

    it('gives a name to one account in any letter case, even when both spellings are created at once', async () => {
      const attempts = await Promise.all(
        ['Twin', 'twin'].map((username) => t.http.post('/api/users').send({ username, password: 'twin-password', role: 'viewer' })),
      );
      expect(attempts.map((res) => res.status).sort()).toEqual([201, 409]);
      expect(attempts.find((res) => res.status === 409)!.body.error).toMatch(/username "[Tt]win" is taken/);
      const twins = ((await t.http.get('/api/users').expect(200)).body as { username: string }[]).filter(
        (user) => user.username.toLowerCase() === 'twin',
      );
      expect(twins).toHaveLength(1);
      const { id } = await addUser(t, 'other-twin', 'viewer');
      await t.http.put(`/api/users/${id}`).send({ username: 'TWIN' }).expect(409);
    });

    it("names the caller's role with its article in a refusal", async () => {
      const { token } = await addUser(t, 'olga', 'operator');
      const refused = await t.anonymous.get('/api/users').set(bearer(token)).expect(403);
      expect(refused.body).toEqual({ statusCode: 403, error: 'This needs the admin role; olga is an operator', request_id: expect.any(String) });
    });

    it('protects the last enabled admin from deletion, demotion and disabling', async () => {
      for (const change of [{ role: 'operator' }, { disabled: true }]) {
        expect((await t.http.put('/api/users/1').send(change).expect(409)).body.error).toMatch(/last admin/);
      }
      await t.http.delete('/api/users/1').expect(409);
      const { id } = await addUser(t, 'second-admin', 'admin');
      await t.http.put('/api/users/1').send({ role: 'operator' }).expect(200);
      await t.http
        .delete(`/api/users/${id}`)
        .set(bearer(await t.login('second-admin', 'second-admin-password')))
        .expect(409);
      await t.anonymous
        .put('/api/users/1')
        .set(bearer(await t.login('second-admin', 'second-admin-password')))
        .send({ role: 'admin' })
        .expect(200);
    });

    it("ends a disabled or deleted user's tokens and sessions at once", async () => {
      const { id, token } = await addUser(t, 'ned', 'operator');
      const { body } = await t.anonymous.post('/api/auth/tokens').set(bearer(token)).send({ name: 'ned script' }).expect(201);
      await t.http.put(`/api/users/${id}`).send({ disabled: true }).expect(200);
      await t.anonymous.get('/api/auth/me').set(bearer(token)).expect(401);
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(401);
      await t.http.put(`/api/users/${id}`).send({ disabled: false }).expect(200);
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(200);
      await t.http.delete(`/api/users/${id}`).expect(200);
      await t.anonymous.get('/api/auth/me').set(bearer(body.token)).expect(401);
      expect(await t.sql(`SELECT id FROM api_tokens WHERE user_id = ${id}`)).toEqual([]);
    });
  });

  describe('the audit log', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ AGENT_OPERATION_TIMEOUT_MS: '500' });
    });
    afterAll(() => t.close());

    it('records each audited action once, with who did it and on what', async () => {
      const { id: userId, token } = await addUser(t, 'ada', 'operator');
      await t.anonymous
        .put('/api/auth/password')
        .set(bearer(token))
        .send({ current_password: 'ada-password', new_password: 'ada-password-2' })
        .expect(200);
      const created = (await t.http.post('/api/auth/tokens').send({ name: 'cron' }).expect(201)).body;
      await t.http.delete(`/api/auth/tokens/${created.id}`).expect(200);
      await t.http.put(`/api/users/${userId}`).send({ role: 'viewer', password: 'ada-password-3' }).expect(200);
      await t.http.delete(`/api/users/${userId}`).expect(200);

      const server = (
        await t.http.post('/api/servers').send({ name: 'gpu-x', host_ip: '127.0.0.1', port: 1, username: 'root', password: 'pw-123456' }).expect(201)
      ).body.id;
      await t.http.post(`/api/servers/${server}/host-key/reset`).expect(200);
      const model = (await t.http.post('/api/models').send({ name: 'm' }).expect(201)).body.id;
      const service = (
        await t.http
          .post('/api/services')
          .send({ name: 's', model_id: model, server_ids: [server], deploy_command: 'run' })
          .expect(201)
      ).body.id;
      await t.app.get(ServiceOperations).settled(service);
      await t.http.post(`/api/services/${service}/restart`).expect(200);
      await t.app.get(ServiceOperations).settled(service);
      await t.http.post(`/api/services/${service}/stop`).expect(200);
      await t.app.get(ServiceOperations).settled(service);
      await t.http.delete(`/api/services/${service}/chat`).expect(200);
      await t.http.delete(`/api/services/${service}`).expect(200);
      await t.http.delete(`/api/models/${model}`).expect(200);
      const task = (await t.http.post('/api/tasks').send({ name: 'n', command: 'uptime', server_id: server, schedule_type: 'daily' }).expect(201))
        .body.id;
      await t.http.delete(`/api/tasks/${task}`).expect(200);
      await t.http.delete(`/api/servers/${server}`).expect(200);
      const brand = (await t.http.post('/api/brands').send({ name: 'b' }).expect(201)).body.id;
      const card = (await t.http.post(`/api/brands/${brand}/accelerators`).send({ name: 'c', model: 'X1' }).expect(201)).body.id;
      await t.http.delete(`/api/accelerators/${card}`).expect(200);
      await t.http.post('/api/auth/logout').expect(200);

      const rows = await t.sql<{ username: string; action: string; target: string; detail: string | null }>(
        'SELECT username, action, target, detail FROM audit_events ORDER BY id',
      );
      const events = rows.map(({ username, action, target }) => `${username} ${action} ${target}`);
      expect(events).toEqual([
        'admin auth.login user:1',
        'admin user.create user:2',
        'ada auth.login user:2',
        'ada auth.password_change user:2',
        'admin token.create token:1',
        'admin token.revoke token:1',
        'admin user.update user:2',
        'admin user.delete user:2',
        `admin server.create server:${server}`,
        `admin server.host_key_reset server:${server}`,
        `admin service.create service:${service}`,
        `admin service.deploy service:${service}`,
        `admin service.restart service:${service}`,
        `admin service.stop service:${service}`,
        `admin chat_history.delete service:${service}`,
        `admin service.delete service:${service}`,
        `admin model.delete model:${model}`,
        `admin task.create task:${task}`,
        `admin task.delete task:${task}`,
        `admin server.delete server:${server}`,
        `admin accelerator.delete accelerator:${card}`,
        'admin auth.logout user:1',
      ]);
      // Which fields changed and the new role; never the password (the admin's session is over: read the table).
      expect(JSON.parse(rows.find(({ action }) => action === 'user.update')!.detail!)).toEqual({ changed: ['role', 'password'], role: 'viewer' });
    });
  });

  describe('sign-in throttling', () => {
    let t: TestApp;
    beforeAll(async () => {
      // LOGIN_RATE_LIMIT_PER_USER, the older name of LOGIN_RATE_LIMIT_PER_USER_IP, still sets the per-address failures.
      t = await startTestApp({ LOGIN_RATE_LIMIT_PER_USER: '3', LOGIN_RATE_LIMIT_PER_IP: '8', LOGIN_RATE_WINDOW_SECONDS: '60' });
    });
    afterAll(() => t.close());

    it('answers 429 with Retry-After once a username has had its failures from an address, even with the right password; other names still sign in', async () => {
      await addUser(t, 'tim', 'viewer');
      // Successful sign-ins are no failures: tim's own (in addUser) left all three.
      for (let attempt = 0; attempt < 3; attempt++)
        await t.anonymous.post('/api/auth/login').send({ username: 'tim', password: 'wrong-password' }).expect(401);
      const blocked = await t.anonymous.post('/api/auth/login').send({ username: 'TIM', password: 'tim-password' }).expect(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(blocked.headers['x-ratelimit-limit']).toBe('3');
      expect(blocked.body).toEqual({ statusCode: 429, error: expect.stringMatching(/too many sign-in attempts/i), request_id: expect.any(String) });
      await t.login(TEST_ADMIN.username, TEST_ADMIN.password);
    });

    it('answers 429 to an IP that has used up its attempts, whatever the username', async () => {
      let last: Response | undefined;
      for (let n = 0; n < 8; n++) {
        last = await t.anonymous.post('/api/auth/login').send({ username: `someone-${n}`, password: 'wrong-password' });
        if (last.status === 429) break;
      }
      expect(last!.status).toBe(429);
      expect(last!.headers['retry-after']).toMatch(/^\d+$/);
      expect(last!.headers['x-ratelimit-limit']).toBe('8');
    });
  });

  describe('behind a reverse proxy', () => {
    const signInFrom = (t: TestApp, forwardedFor: string) =>
      t.anonymous.post('/api/auth/login').set('X-Forwarded-For', forwardedFor).send({ username: 'nobody', password: 'wrong-password' });

    it('with TRUST_PROXY, throttles and audits sign-ins by the client address the proxy forwards', async () => {
      const t = await startTestApp({
        TRUST_PROXY: 'loopback',
        LOGIN_RATE_LIMIT_PER_IP: '2',
        LOGIN_RATE_LIMIT_PER_USER: '50',
        // Audit series run in fixed windows from the epoch: at the default 15 min, a boundary between two sign-ins
        // (CI met one) rightly starts a new row. 20 days (setTimeout's limit is 24.8) leaves no boundary in reach.
        LOGIN_FAILURE_CEILING_WINDOW_SECONDS: String(20 * 24 * 3600),
      });
      try {
        const statuses = [];
        for (const ip of ['203.0.113.7', '203.0.113.7', '203.0.113.7', '198.51.100.9']) statuses.push((await signInFrom(t, ip)).status);
        // Two attempts per client; another client behind the same proxy is not locked out with the first.
        expect(statuses).toEqual([401, 401, 429, 401]);
        // A row per client address (and username) with the count of its failures.
        const failures = await auditEvents(t, '&action=auth.login_failed');
        expect(failures.map((event) => [event.ip, event.detail?.count])).toEqual([
          ['198.51.100.9', 1],
          ['203.0.113.7', 2],
        ]);
      } finally {
        await t.close();
      }
    });

    it('without TRUST_PROXY, ignores X-Forwarded-For: a client cannot dodge throttling or forge its audited address', async () => {
      const t = await startTestApp({ LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_USER: '50' });
      try {
        // The test app's own sign-in was the first attempt from this address.
        expect((await signInFrom(t, '203.0.113.7')).status).toBe(401);
        expect((await signInFrom(t, '198.51.100.9')).status).toBe(429);
        const failures = await auditEvents(t, '&action=auth.login_failed');
        expect(failures.map((event) => event.ip)).toEqual([expect.stringMatching(/127\.0\.0\.1$/)]);
      } finally {
        await t.close();
      }
    });
  });

  describe('audit retention', () => {
    const DAY_MS = 24 * 3600 * 1000;
    /** An instant `days` ago as the database stores it. */
    const daysAgo = (days: number) => {
      const iso = new Date(Date.now() - days * DAY_MS).toISOString();
      return process.env.DATABASE_URL ? iso : iso.replace('T', ' ').replace('Z', '');
    };

    it('deletes events older than AUDIT_RETENTION_DAYS when an instance starts, keeps newer ones, and keeps all with 0', async () => {
      const t = await startTestApp({ AUDIT_RETENTION_DAYS: '0' });
      try {
        for (const [action, days] of [
          ['ancient.event', 4000],
          ['recent.event', 20],
        ] as const) {
          await t.sql(`INSERT INTO audit_events (at, action) VALUES (${placeholder(1)}, ${placeholder(2)})`, [daysAgo(days), action]);
        }
        const actions = async () => (await auditEvents(t)).map((event) => event.action);
        await (await startTestApp({ AUDIT_RETENTION_DAYS: '0' }, false, t)).close();
        expect(await actions()).toEqual(expect.arrayContaining(['ancient.event', 'recent.event', 'auth.login']));

        await (await startTestApp({ AUDIT_RETENTION_DAYS: '30' }, false, t)).close();
        expect(await actions()).toEqual(expect.arrayContaining(['recent.event', 'auth.login']));
        expect(await actions()).not.toContain('ancient.event');
      } finally {
        await t.close();
      }
    });
  });

  describe('AUTH_ENABLED=false', () => {
    let t: TestApp;
    const logger = new CapturingLogger();
    beforeAll(async () => {
      t = await startTestApp({ AUTH_ENABLED: 'false' }, logger);
    });
    afterAll(() => t.close());

    it('lets every caller in as an admin, says so loudly at start-up, and has no tokens to give', async () => {
      expect(t.adminToken).toBe('');
      expect((await t.anonymous.get('/api/auth/me').expect(200)).body).toEqual({
        id: null,
        username: 'anonymous',
        role: 'admin',
        auth_enabled: false,
      });
      await t.anonymous.post('/api/brands').send({ name: 'open door' }).expect(201);
      await t.anonymous.get('/api/users').expect(200);
      await t.anonymous.post('/api/auth/tokens').send({ name: 'x' }).expect(409);
      expect(logger.lines.filter((line) => /AUTH_ENABLED=false: authentication is OFF/.test(line))).toHaveLength(1);
    });
  });
});

describeSsh('authentication of sockets, roles on the terminal, and the audit log (real sshd)', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let url: string;
  let serverId: number;
  let viewer: { id: number; token: string };
  const logger = new CapturingLogger();
  const sockets: Socket[] = [];

  const connect = (options: Parameters<typeof io>[1]): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
      sockets.push(socket);
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  const nextEvent = <T>(socket: Socket, names: string[]): Promise<{ name: string; payload: T }> =>
    new Promise((resolve) => {
      const listener = (name: string, payload: T) => {
        if (!names.includes(name)) return;
        socket.offAny(listener);
        resolve({ name, payload });
      };
      socket.onAny(listener);
    });

  beforeAll(async () => {
    sshd = await startSshd();
    t = await startTestApp({ LOG_LEVEL: 'debug' }, logger);
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    serverId = (
      await t.http
        .post('/api/servers')
        .send({ name: 'gpu-1', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
        .expect(201)
    ).body.id;
    viewer = await addUser(t, 'vera', 'viewer');
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await t?.close();
    await sshd?.stop();
  });

  it('refuses a socket without a token or with a bad one, and accepts auth.token, the Authorization header and the cookie', async () => {
    await expect(connect({})).rejects.toThrow(/Unauthorized/);
    await expect(connect({ auth: { token: 'forged' } })).rejects.toThrow(/Unauthorized/);
    await connect({ auth: { token: t.adminToken } });
    await connect({ extraHeaders: { Authorization: `Bearer ${t.adminToken}` } });
    // The cookie counts only from an allowed origin (a browser sends one; see security-web for the refusals).
    await connect({ extraHeaders: { Cookie: `infini_token=${t.adminToken}`, Origin: 'http://localhost:8080' } });
  });

  it('refuses a viewer a terminal with ssh_error naming the role, and opens one for an admin', async () => {
    const socket = await connect({ auth: { token: viewer.token } });
    socket.emit('ssh_connect', { server_id: serverId });
    const refused = await nextEvent<{ error: string }>(socket, ['ssh_connected', 'ssh_error']);
    expect(refused).toEqual({ name: 'ssh_error', payload: { error: expect.stringMatching(/operator role; vera is a viewer/) } });

    const admin = await connect({ auth: { token: t.adminToken } });
    admin.emit('ssh_connect', { server_id: serverId });
    expect((await nextEvent(admin, ['ssh_connected', 'ssh_error'])).name).toBe('ssh_connected');
    admin.emit('ssh_disconnect');
    await nextEvent(admin, ['ssh_disconnected']);
  });

  it('records terminal sessions, task executions, credential changes, deletions and sign-ins, each with user, IP and target', async () => {
    const task = (
      await t.http.post('/api/tasks').send({ name: 'uptime', command: 'echo audited', server_id: serverId, schedule_type: 'daily' }).expect(201)
    ).body.id;
    expect((await t.http.post(`/api/tasks/${task}/execute`).expect(200)).body.output).toContain('audited');
    await t.http.put(`/api/servers/${serverId}`).send({ password: sshd.password }).expect(200);
    const brand = (await t.http.post('/api/brands').send({ name: 'Doomed' }).expect(201)).body.id;
    await t.http.delete(`/api/brands/${brand}`).expect(200);
    await t.anonymous.post('/api/auth/login').send({ username: 'vera', password: 'wrong-password' }).expect(401);

    expect(await lastEvent(t, 'task.execute')).toMatchObject({
      user: 'admin',
      ip: expect.stringMatching(/127\.0\.0\.1/),
      target: `task:${task}`,
      detail: { command: 'echo audited', server_id: serverId },
    });
    expect(await lastEvent(t, 'server.credentials_change')).toMatchObject({
      user: 'admin',
      target: `server:${serverId}`,
      detail: { changed: ['password'] },
    });
    expect(await lastEvent(t, 'brand.delete')).toMatchObject({ user: 'admin', target: `brand:${brand}`, detail: { name: 'Doomed' } });
    expect(await lastEvent(t, 'auth.login_failed')).toMatchObject({ user: 'vera', detail: { reason: 'wrong password' } });
    expect(await lastEvent(t, 'user.create')).toMatchObject({
      user: 'admin',
      target: `user:${viewer.id}`,
      detail: { username: 'vera', role: 'viewer' },
    });
    expect(await lastEvent(t, 'server.create')).toMatchObject({ user: 'admin', target: `server:${serverId}` });
    // The terminal the previous test opened and closed (written as the socket events happen).
    expect(await lastEvent(t, 'terminal.open')).toMatchObject({ user: 'admin', target: `server:${serverId}` });
    expect(await lastEvent(t, 'terminal.close')).toMatchObject({
      user: 'admin',
      target: `server:${serverId}`,
      detail: { seconds: expect.any(Number) },
    });
  });

  it('filters the audit log by user, action prefix and time, pages it, and keeps it from non-admins', async () => {
    const logins = await auditEvents(t, '&action=auth.&user=admin');
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((event) => event.action.startsWith('auth.') && event.user === 'admin')).toBe(true);
    // Usernames in any letter case; LIKE wildcards in a prefix are literal ("aut_." is not "auth.").
    expect(await auditEvents(t, '&action=auth.&user=ADMIN')).toEqual(logins);
    expect(await auditEvents(t, '&action=aut_.')).toEqual([]);
    expect(await auditEvents(t, '&action=%25.')).toEqual([]);
    const page = (await t.http.get('/api/audit?per_page=2&page=2').expect(200)).body;
    const all = await auditEvents(t);
    expect(page).toEqual({ events: all.slice(2, 4), total: all.length, page: 2, per_page: 2 });
    expect(await auditEvents(t, `&from=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect(all.map((event) => event.at)).toEqual([...all.map((event) => event.at)].sort().reverse());
    await t.http.get('/api/audit?per_page=501').expect(400);
    await t.http.get('/api/audit?from=yesterday').expect(400);
    await t.anonymous.get('/api/audit').set(bearer(viewer.token)).expect(403);
  });

  it('lets no stored secret reach a response, a log line or an audit row', async () => {
    const serverPassword = 'S3cret-Pa55-xyz';
    const userPassword = 'User-Pa55-qrs';
    const responses: string[] = [];
    const keep = (res: Response) => responses.push(JSON.stringify(res.body) + JSON.stringify(res.headers));
    const server = await t.http
      .post('/api/servers')
      .send({ name: 'gpu-secret', host_ip: '127.0.0.1', port: 1, username: 'u', password: serverPassword })
      .expect(201);
    keep(server);
    const secretServer = server.body.id as number;
    keep(
      await t.http
        .put(`/api/servers/${secretServer}`)
        .send({ password: `${serverPassword}-2` })
        .expect(200),
    );
    keep(await t.http.get(`/api/servers/${secretServer}`).expect(200));
    keep(await t.http.get('/api/servers').expect(200));
    keep(await t.http.post('/api/users').send({ username: 'sam', password: userPassword, role: 'operator' }).expect(201));
    const session = await t.anonymous.post('/api/auth/login').send({ username: 'sam', password: userPassword }).expect(200);
    const created = await t.anonymous.post('/api/auth/tokens').set(bearer(session.body.access_token)).send({ name: 'secret token' }).expect(201);
    keep(await t.anonymous.get('/api/auth/tokens').set(bearer(session.body.access_token)).expect(200));
    keep(
      await t.anonymous
        .put('/api/auth/password')
        .set(bearer(created.body.token))
        .send({ current_password: userPassword, new_password: `${userPassword}-2` })
        .expect(200),
    );
    keep(await t.http.get('/api/audit?per_page=500').expect(200));
    keep(await t.http.get('/api/users').expect(200));
    const auditRows = JSON.stringify(await t.sql('SELECT * FROM audit_events'));

    const secrets = [serverPassword, userPassword, created.body.token as string, session.body.access_token as string];
    const haystacks = { responses: responses.join('\n'), 'audit rows': auditRows, 'log lines': logger.lines.join('\n') };
    expect(logger.lines.some((line) => line.includes('PUT /api/auth/password'))).toBe(true);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false });
    }
  });
});
