import { sign } from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { startTestApp, TEST_ADMIN, TestApp } from './helpers/test-app';

interface AuditEvent {
  user: string | null;
  ip: string | null;
  action: string;
  detail: Record<string, unknown> | null;
}

/** A sign-in from `ip`, as a trusted proxy (TRUST_PROXY=loopback) forwards it. */
const signIn = (t: TestApp, ip: string, username: string, password: string) =>
  t.anonymous.post('/api/auth/login').set('X-Forwarded-For', ip).send({ username, password });

async function auditEvents(t: TestApp, action: string): Promise<AuditEvent[]> {
  return ((await t.http.get(`/api/audit?per_page=500&action=${action}`).expect(200)).body as { events: AuditEvent[] }).events;
}

/** The rate-limit headers of a refusal; none may be suffixed with a throttler's name. */
function limitHeaders(res: Response): Record<string, string> {
  const headers = res.headers as Record<string, string>;
  expect(Object.keys(headers).filter((name) => /^(x-ratelimit-[a-z]+|retry-after)-/.test(name))).toEqual([]);
  return {
    limit: headers['x-ratelimit-limit'],
    remaining: headers['x-ratelimit-remaining'],
    reset: headers['x-ratelimit-reset'],
    retryAfter: headers['retry-after'],
  };
}

describe('sign-in throttling cannot be turned against a user', () => {
  it('lets the owner sign in from a fresh address while others fail for the same username from many addresses', async () => {
    const t = await startTestApp({ TRUST_PROXY: 'loopback' });
    try {
      for (let n = 1; n <= 6; n++) {
        const statuses = [];
        for (let attempt = 0; attempt < 6; attempt++) statuses.push((await signIn(t, `203.0.113.${n}`, 'admin', 'guessed-password')).status);
        // Five failures per address with the default limit, then that address (only) is refused.
        expect({ address: n, statuses }).toEqual({ address: n, statuses: [401, 401, 401, 401, 401, 429] });
      }
      const owner = await signIn(t, '198.51.100.1', 'ADMIN', TEST_ADMIN.password).expect(200);
      expect(owner.body.user).toEqual({ id: 1, username: 'admin', role: 'admin' });
      // The right password from an address that used up its failures is still refused.
      await signIn(t, '203.0.113.1', 'admin', TEST_ADMIN.password).expect(429);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('still throttles brute force from one address, with Retry-After and the X-RateLimit-* headers of the limit that refused', async () => {
    const t = await startTestApp({
      TRUST_PROXY: 'loopback',
      LOGIN_RATE_LIMIT_PER_USER_IP: '3',
      LOGIN_RATE_LIMIT_PER_IP: '10',
      LOGIN_RATE_WINDOW_SECONDS: '60',
    });
    try {
      await t.http.post('/api/users').send({ username: 'bob', password: 'bob-password', role: 'viewer' }).expect(201);
      for (let attempt = 0; attempt < 3; attempt++) await signIn(t, '203.0.113.7', 'admin', 'guessed-password').expect(401);
      const refused = await signIn(t, '203.0.113.7', 'admin', TEST_ADMIN.password).expect(429);
      expect(refused.body).toEqual({
        statusCode: 429,
        error: expect.stringMatching(/^Too many sign-in attempts: try again in \d+ s$/),
        request_id: expect.any(String),
      });
      const perUser = limitHeaders(refused);
      expect(perUser).toEqual({ limit: '3', remaining: '0', reset: perUser.retryAfter, retryAfter: expect.stringMatching(/^\d+$/) });
      expect(Number(perUser.retryAfter)).toBeGreaterThan(50);
      expect(Number(perUser.retryAfter)).toBeLessThanOrEqual(60);
      expect(refused.body.error).toContain(`in ${perUser.retryAfter} s`);
      // Another account from the same address is not locked with admin.
      await signIn(t, '203.0.113.7', 'bob', 'bob-password').expect(200);

      // Every attempt counts against the address: 5 so far, 10 allowed.
      for (let n = 0; n < 5; n++) await signIn(t, '203.0.113.7', `someone-${n}`, 'guessed-password').expect(401);
      const perAddress = limitHeaders(await signIn(t, '203.0.113.7', 'bob', 'bob-password').expect(429));
      expect(perAddress).toEqual({ limit: '10', remaining: '0', reset: perAddress.retryAfter, retryAfter: expect.stringMatching(/^\d+$/) });
      await signIn(t, '198.51.100.9', 'bob', 'bob-password').expect(200);

      // Each lock is audited once, however often it refuses.
      await signIn(t, '203.0.113.7', 'bob', 'bob-password').expect(429);
      const throttled = await auditEvents(t, 'auth.login_throttled');
      expect(throttled).toEqual([
        {
          id: expect.any(Number),
          at: expect.any(String),
          target: null,
          user: null,
          ip: '203.0.113.7',
          action: 'auth.login_throttled',
          detail: expect.objectContaining({ bucket: 'ip', limit: 10, window_seconds: 60, count: 1 }),
        },
        {
          id: expect.any(Number),
          at: expect.any(String),
          target: null,
          user: 'admin',
          ip: '203.0.113.7',
          action: 'auth.login_throttled',
          detail: expect.objectContaining({ bucket: 'user_ip', limit: 3, window_seconds: 60, count: 1 }),
        },
      ]);
    } finally {
      await t.close();
    }
  });

  it('refuses even the right password, from any address, once a username crosses its ceiling of failures', async () => {
    const t = await startTestApp({
      TRUST_PROXY: 'loopback',
      LOGIN_RATE_LIMIT_PER_USER_IP: '2',
      LOGIN_FAILURE_CEILING_PER_USER: '6',
      LOGIN_FAILURE_CEILING_WINDOW_SECONDS: '900',
    });
    try {
      await t.http.post('/api/users').send({ username: 'bob', password: 'bob-password', role: 'viewer' }).expect(201);
      const fail = (ip: string) => signIn(t, ip, 'admin', 'guessed-password').expect(401);
      for (const ip of ['203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2']) await fail(ip);
      // Below the ceiling, the owner is not refused because of others' failures.
      await signIn(t, '198.51.100.1', 'admin', TEST_ADMIN.password).expect(200);
      for (const ip of ['203.0.113.3', '203.0.113.3']) await fail(ip);

      const refused = await signIn(t, '198.51.100.2', 'admin', TEST_ADMIN.password).expect(429);
      const ceiling = limitHeaders(refused);
      expect(ceiling).toEqual({ limit: '6', remaining: '0', reset: ceiling.retryAfter, retryAfter: expect.stringMatching(/^\d+$/) });
      expect(Number(ceiling.retryAfter)).toBeGreaterThan(800);
      expect(Number(ceiling.retryAfter)).toBeLessThanOrEqual(900);
      // The ceiling is the username's: other accounts sign in from the same addresses.
      await signIn(t, '198.51.100.2', 'bob', 'bob-password').expect(200);
      expect(await auditEvents(t, 'auth.login_throttled')).toEqual([
        expect.objectContaining({
          user: 'admin',
          ip: '198.51.100.2',
          detail: expect.objectContaining({ bucket: 'user', limit: 6, window_seconds: 900 }),
        }),
      ]);
    } finally {
      await t.close();
    }
  });

  it('keeps the audit log to a row per username, address and window under a flood, with the count for the admin', async () => {
    const t = await startTestApp({
      TRUST_PROXY: 'loopback',
      LOGIN_RATE_LIMIT_PER_IP: '1000',
      LOGIN_RATE_LIMIT_PER_USER_IP: '1000',
      LOGIN_FAILURE_CEILING_PER_USER: '1000',
      // Audit series run in fixed windows from the epoch: at the default 15 min, a boundary during the flood would
      // rightly start new rows. 20 days (setTimeout's limit is 24.8) leaves no boundary in reach.
      LOGIN_FAILURE_CEILING_WINDOW_SECONDS: String(20 * 24 * 3600),
    });
    try {
      for (let n = 0; n < 100; n++) await signIn(t, '203.0.113.7', 'admin', `guess-${n}`).expect(401);
      // Made-up usernames (a spray) share one row per address.
      for (let n = 0; n < 30; n++) await signIn(t, '203.0.113.7', `intruder-${n}`, 'guessed-password').expect(401);
      await signIn(t, '198.51.100.9', 'admin', 'guessed-password').expect(401);

      const failures = await auditEvents(t, 'auth.login_failed');
      expect(failures.map(({ user, ip, detail }) => ({ user, ip, detail }))).toEqual([
        { user: 'admin', ip: '198.51.100.9', detail: { reason: 'wrong password', count: 1, last_at: expect.any(String) } },
        { user: null, ip: '203.0.113.7', detail: { reason: 'unknown user', username: 'intruder-29', count: 30, last_at: expect.any(String) } },
        { user: 'admin', ip: '203.0.113.7', detail: { reason: 'wrong password', count: 100, last_at: expect.any(String) } },
      ]);
      expect(await t.sql("SELECT id FROM audit_events WHERE action = 'auth.login_failed'")).toHaveLength(3);
    } finally {
      await t.close();
    }
  }, 180_000);
});

describe('login tokens with claims this backend never issues', () => {
  let t: TestApp;
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';
  beforeAll(async () => {
    t = await startTestApp({ JWT_SECRET: secret });
  });
  afterAll(() => t.close());

  /** Signed as this backend signs; `expiresIn` 0 leaves out the expiry. */
  const token = (claims: Record<string, unknown>, expiresIn = 60) =>
    sign(claims, secret, { algorithm: 'HS256', ...(expiresIn ? { expiresIn } : {}) });

  /** The statuses of a request that needs a principal and of logout, which uses the session's claims. */
  const statuses = async (claims: Record<string, unknown>, expiresIn?: number) => {
    const bearer = `Bearer ${token(claims, expiresIn)}`;
    const me = await t.anonymous.get('/api/auth/me').set('Authorization', bearer);
    const logout = await t.anonymous.post('/api/auth/logout').set('Authorization', bearer);
    return { claims, me: me.status, logout: logout.status, error: me.body.error };
  };
  const refused = (claims: Record<string, unknown>) => ({
    claims,
    me: 401,
    logout: 401,
    error: expect.stringMatching(/invalid, expired or revoked/i),
  });

  it('answers 401, not 500, when sub is not a positive integer in decimal', async () => {
    // Signed right, the same claims with sub '1' are the admin's session: the refusals are about sub alone.
    expect(await statuses({ sub: '1', pwd: 0, jti: randomUUID() })).toEqual({ claims: expect.anything(), me: 200, logout: 200, error: undefined });
    for (const sub of ['abc', '0', '-1', '1.5', '1e0', ' 1', '01', '99999999999999999999', {}, 1, null]) {
      const claims = { sub, pwd: 0, jti: randomUUID() };
      expect(await statuses(claims)).toEqual(refused(claims));
    }
  });

  it('answers 401, not 500, when pwd is not a number, jti not a string or the expiry is missing', async () => {
    for (const claims of [
      { sub: '1', pwd: '0', jti: randomUUID() },
      { sub: '1', jti: randomUUID() },
      { sub: '1', pwd: 0, jti: 42 },
      { sub: '1', pwd: 0, jti: { id: 'x' } },
      { sub: '1', pwd: 0, jti: '' },
      { sub: '1', pwd: 0 },
    ]) {
      expect(await statuses(claims)).toEqual(refused(claims));
    }
    const lasting = { sub: '1', pwd: 0, jti: randomUUID() };
    expect(await statuses(lasting, 0)).toEqual(refused(lasting));
  });
});
