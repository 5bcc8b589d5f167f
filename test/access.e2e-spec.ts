import { startTestApp, TestApp } from './helpers/test-app';

/**
 * Access control of every route, generated from the OpenAPI document itself, so a route added later is
 * covered without touching this file: no token → 401, a role below the route's declared one → 403, and
 * neither changes anything.
 */

interface DocumentedOperation {
  method: string;
  path: string;
  isPublic: boolean;
  requiredRole?: string;
  securedBy?: unknown[];
  responses: Record<string, unknown>;
}

type Role = 'viewer' | 'operator' | 'admin';

/** Reads and self-service are open to viewers; everything else that changes state is not. */
const VIEWER_MAY_CHANGE = [
  'POST /api/auth/logout',
  'PUT /api/auth/password',
  'POST /api/auth/tokens',
  'PATCH /api/auth/tokens/{id}',
  'DELETE /api/auth/tokens/{id}',
];
const PUBLIC_ROUTES = ['GET /api/health', 'POST /api/auth/login'];
const ADMIN_ONLY = ['GET /api/users', 'POST /api/users', 'PUT /api/users/{id}', 'DELETE /api/users/{id}', 'GET /api/audit'];

/** A concrete URL for a documented path: ids that may or may not exist (access is checked before existence). */
function concrete(path: string): string {
  return path.replace(/\{filename\}/g, 'logo.png').replace(/\{[^}]+\}/g, '1');
}

const routeName = ({ method, path }: DocumentedOperation) => `${method} ${path}`;
/** Whether the document gives the route OpenAI's error body (`{error: {message, type, code, param}}`) rather than the house one. */
const answersOpenAiErrors = ({ responses }: DocumentedOperation) =>
  JSON.stringify(responses['401']).includes('#/components/schemas/OpenAiErrorResponse');

describe('access control of every documented route', () => {
  let t: TestApp;
  let operations: DocumentedOperation[];
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    t = await startTestApp();
    const document = (await t.http.get('/api/docs-json').expect(200)).body as { paths: Record<string, Record<string, Record<string, unknown>>> };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        isPublic: operation['x-public'] === true,
        requiredRole: operation['x-required-role'] as string | undefined,
        securedBy: operation.security as unknown[] | undefined,
        responses: operation.responses as Record<string, unknown>,
      })),
    );
    for (const role of ['viewer', 'operator'] as const) {
      await t.http
        .post('/api/users')
        .send({ username: `${role}-1`, password: `${role}-password`, role })
        .expect(201);
      tokens[role] = await t.login(`${role}-1`, `${role}-password`);
    }
    tokens.admin = t.adminToken;
  });
  afterAll(() => t.close());

  /** What a caller could have changed: every list an admin can read. */
  async function snapshot(): Promise<string> {
    const lists = ['/api/brands', '/api/models', '/api/servers', '/api/services', '/api/tasks', '/api/users', '/api/auth/tokens', '/api/stats'];
    const bodies = [];
    for (const url of lists) bodies.push((await t.http.get(url).expect(200)).body);
    return JSON.stringify(bodies);
  }

  it('documents the public routes as public and every other one as needing a bearer token and a role', () => {
    expect(operations.length).toBeGreaterThan(50);
    expect(
      operations
        .filter((operation) => operation.isPublic)
        .map(routeName)
        .sort(),
    ).toEqual([...PUBLIC_ROUTES].sort());
    for (const operation of operations.filter((candidate) => !candidate.isPublic)) {
      expect({ route: routeName(operation), security: operation.securedBy }).toEqual({
        route: routeName(operation),
        security: [{ bearer: [] }, { cookie: [] }],
      });
      expect({ route: routeName(operation), has401: '401' in operation.responses }).toEqual({ route: routeName(operation), has401: true });
      const expected = ADMIN_ONLY.includes(routeName(operation))
        ? 'admin'
        : operation.method === 'GET' || VIEWER_MAY_CHANGE.includes(routeName(operation))
          ? 'viewer'
          : 'operator';
      expect({ route: routeName(operation), role: operation.requiredRole }).toEqual({ route: routeName(operation), role: expected });
    }
  });

  it('answers 401 with WWW-Authenticate to every non-public route called without a token, or with a forged one, and changes nothing', async () => {
    const before = await snapshot();
    const forged = `${t.adminToken.slice(0, -4)}AAAA`;
    for (const operation of operations.filter((candidate) => !candidate.isPublic)) {
      for (const authorization of [undefined, `Bearer ${forged}`, 'Bearer ist_not-a-real-token']) {
        const call = t.anonymous[operation.method.toLowerCase() as 'get'](concrete(operation.path));
        if (authorization) call.set('Authorization', authorization);
        const res = await (operation.method === 'GET' ? call : call.send({}));
        expect({ route: routeName(operation), authorization, status: res.status }).toEqual({
          route: routeName(operation),
          authorization,
          status: 401,
        });
        expect(res.headers['www-authenticate']).toBe('Bearer');
        const message = expect.stringMatching(authorization ? /invalid, expired or revoked/i : /authentication required/i);
        // The OpenAI-compatible routes of a service answer in OpenAI's error shape, as their document says.
        expect(res.body).toEqual(
          answersOpenAiErrors(operation)
            ? { error: { message, type: 'authentication_error', code: authorization ? 'invalid_api_key' : 'missing_api_key', param: null } }
            : { statusCode: 401, error: message, request_id: expect.any(String) },
        );
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it("answers 403 to callers whose role is below the route's, and changes nothing", async () => {
    const before = await snapshot();
    const below: Record<string, Role[]> = { viewer: [], operator: ['viewer'], admin: ['viewer', 'operator'] };
    let checked = 0;
    for (const operation of operations.filter((candidate) => !candidate.isPublic)) {
      for (const role of below[operation.requiredRole!]) {
        const call = t.anonymous[operation.method.toLowerCase() as 'get'](concrete(operation.path)).set('Authorization', `Bearer ${tokens[role]}`);
        const res = await (operation.method === 'GET' ? call : call.send({}));
        expect({ route: routeName(operation), role, status: res.status }).toEqual({ route: routeName(operation), role, status: 403 });
        expect(answersOpenAiErrors(operation) ? res.body.error.message : res.body.error).toMatch(
          new RegExp(`needs the ${operation.requiredRole} role`),
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(await snapshot()).toBe(before);
  });

  it("lets each role through to the routes its role allows (the answer is the route's own, never 401 or 403)", async () => {
    for (const operation of operations.filter((candidate) => !candidate.isPublic && candidate.method === 'GET')) {
      const allowed: Role[] = operation.requiredRole === 'admin' ? ['admin'] : ['viewer', 'operator', 'admin'];
      for (const role of allowed) {
        const res = await t.anonymous.get(concrete(operation.path)).set('Authorization', `Bearer ${tokens[role]}`);
        expect({ route: routeName(operation), role, denied: [401, 403].includes(res.status) }).toEqual({
          route: routeName(operation),
          role,
          denied: false,
        });
      }
    }
  });

  it('keeps the docs and health public', async () => {
    await t.anonymous.get('/api/health').expect(200);
    await t.anonymous.get('/api/docs-json').expect(200);
    await t.anonymous.post('/api/auth/login').send({ username: 'nobody', password: 'wrong-password' }).expect(401);
  });
});
