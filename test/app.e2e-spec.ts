import { startTestApp, TestApp } from './helpers/test-app';

interface Operation {
  operationId?: string;
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

describe('application shell: OpenAPI, CORS, headers, error shape', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: 'http://localhost:8080' });
  });
  afterAll(() => t.close());

  it('serves Swagger UI at /api/docs', async () => {
    const res = await t.http.get('/api/docs/').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  describe('the OpenAPI document', () => {
    let operations: [string, Operation][];

    beforeAll(async () => {
      const res = await t.http.get('/api/docs-json').expect(200);
      const paths = res.body.paths as Record<string, Record<string, Operation>>;
      operations = Object.entries(paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as [string, Operation]),
      );
    });

    it('covers the inventory, upload, stats and health routes', () => {
      expect(operations.map(([route]) => route)).toEqual(
        expect.arrayContaining([
          'GET /api/brands',
          'POST /api/brands',
          'PUT /api/brands/{id}',
          'DELETE /api/brands/{id}',
          'POST /api/brands/reorder',
          'GET /api/brands/{brand_id}/accelerators',
          'POST /api/brands/{brand_id}/accelerators',
          'PUT /api/accelerators/{id}',
          'DELETE /api/accelerators/{id}',
          'GET /api/models',
          'POST /api/models',
          'PUT /api/models/{id}',
          'DELETE /api/models/{id}',
          'POST /api/upload',
          'GET /api/uploads/{filename}',
          'GET /api/stats',
          'GET /api/health',
        ]),
      );
    });

    it('gives every route a unique operationId', () => {
      const ids = operations.map(([, operation]) => operation.operationId);
      expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('gives every route a success response with a schema', () => {
      const missing = operations
        .filter(([, operation]) =>
          Object.entries(operation.responses).every(
            ([status, response]) => !status.startsWith('2') || !Object.values(response.content ?? {}).some((media) => media.schema),
          ),
        )
        .map(([route]) => route);
      expect(missing).toEqual([]);
    });

    it('gives every create, update and upload a request schema, and every error the error body', () => {
      const withoutBody = operations
        .filter(([, operation]) => /^(create|update|reorder|upload)/.test(operation.operationId ?? ''))
        .filter(([, operation]) => !Object.values(operation.requestBody?.content ?? {}).some((media) => media.schema))
        .map(([route]) => route);
      expect(withoutBody).toEqual([]);
      const errorSchemas = operations.flatMap(([, operation]) =>
        Object.entries(operation.responses)
          .filter(([status]) => /^[45]/.test(status))
          .map(([, response]) => JSON.stringify(response.content?.['application/json']?.schema)),
      );
      expect(new Set(errorSchemas)).toEqual(new Set([JSON.stringify({ $ref: '#/components/schemas/ErrorResponse' })]));
    });
  });

  it('allows the admin UI origin and no other', async () => {
    const allowed = await t.http
      .options('/api/brands')
      .set('Origin', 'http://localhost:8080')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type');
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('http://localhost:8080');

    const refused = await t.http.get('/api/brands').set('Origin', 'http://evil.example');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends security headers and no framework banner', async () => {
    const res = await t.http.get('/api/stats').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('answers unknown routes and malformed JSON in the contract error shape', async () => {
    const unknown = await t.http.get('/api/nothing-here').expect(404);
    expect(unknown.body).toEqual({ statusCode: 404, error: 'Cannot GET /api/nothing-here' });

    const malformed = await t.http.post('/api/brands').set('Content-Type', 'application/json').send('{"name": "x",').expect(400);
    expect(malformed.body.statusCode).toBe(400);
    expect(typeof malformed.body.error).toBe('string');
    expect(malformed.body.error).toMatch(/^Malformed JSON in request body: /);
  });

  it('refuses an oversized JSON body with 413', async () => {
    const res = await t.http
      .post('/api/brands')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }))
      .expect(413);
    expect(res.body).toEqual({ statusCode: 413, error: 'Request body too large' });
  });
});
