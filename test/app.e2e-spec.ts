import { startTestApp, TestApp } from './helpers/test-app';

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

interface Schema {
  $ref?: string;
  description?: string;
  properties?: Record<string, { default?: unknown; format?: string; enum?: unknown[] }>;
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
    let schemas: Record<string, Schema>;
    const operation = (route: string) => operations.find(([candidate]) => candidate === route)![1];
    /** A body's schema, or the component schema its `$ref` names. */
    const bodySchema = (route: string, contentType: string): Schema => {
      const schema = operation(route).requestBody!.content[contentType].schema as Schema;
      return schema.$ref ? schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
    };

    beforeAll(async () => {
      const res = await t.http.get('/api/docs-json').expect(200);
      schemas = res.body.components.schemas;
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

    // Generators type a field with a default as always present: a rename would have to resend the port.
    it('declares no default on any update body: a field left out keeps its stored value', () => {
      const defaults = operations
        .filter(([route]) => route.startsWith('PUT '))
        .flatMap(([route, { requestBody }]) =>
          Object.keys(requestBody?.content ?? {}).flatMap((contentType) =>
            Object.entries(bodySchema(route, contentType).properties ?? {})
              .filter(([, property]) => property.default !== undefined)
              .map(([name]) => `${route} ${contentType} ${name}`),
          ),
        );
      expect(defaults).toEqual([]);
      expect(bodySchema('POST /api/servers', 'application/json').properties?.port?.default).toBe(22);
    });

    it('gives a long handler comment a one-line summary (its first sentence) and the rest as description', () => {
      expect(operations.filter(([, { summary }]) => !summary || summary.includes('\n')).map(([route]) => route)).toEqual([]);
      expect(operation('PUT /api/brands/{id}')).toMatchObject({
        summary: 'Updates a brand.',
        description: expect.stringMatching(/^As JSON, fields left out keep their values\. As a multipart form/),
      });
    });

    it('documents brand and model bodies as JSON without a file and as multipart forms with logo_file', () => {
      for (const route of ['POST /api/brands', 'PUT /api/brands/{id}', 'POST /api/models', 'PUT /api/models/{id}']) {
        expect(bodySchema(route, 'application/json').properties).not.toHaveProperty('logo_file');
        expect(bodySchema(route, 'multipart/form-data').properties).toMatchObject({ name: {}, logo: {}, logo_file: { format: 'binary' } });
      }
      expect(bodySchema('PUT /api/models/{id}', 'multipart/form-data').description).toMatch(/`parameters` left out is cleared/);
    });

    it('documents the health answer', () => {
      expect(schemas.HealthResponse.properties).toEqual({
        status: expect.objectContaining({ enum: ['ok'] }),
        db: expect.objectContaining({ enum: ['up'] }),
        redis: expect.objectContaining({ enum: ['up', 'down', 'off'] }),
      });
    });

    it('gives every create, update and upload a request schema, and every error the error body', () => {
      const withoutBody = operations
        .filter(([, operation]) => /^(create|update|reorder|upload)/.test(operation.operationId ?? ''))
        .filter(([, operation]) => !Object.values(operation.requestBody?.content ?? {}).some((media) => media.schema))
        .map(([route]) => route);
      expect(withoutBody).toEqual([]);
      // The OpenAI-compatible routes answer errors as OpenAI does, for the clients written against it.
      const openAiCompatible = (route: string) =>
        /^\w+ (\/api\/services\/\{id\}|\/v1)\/(chat\/completions|completions|embeddings|models)\b/.test(route);
      const errorSchemas = (routes: [string, Operation][]) =>
        new Set(
          routes.flatMap(([, operation]) =>
            Object.entries(operation.responses)
              .filter(([status]) => /^[45]/.test(status))
              .map(([, response]) => JSON.stringify(response.content?.['application/json']?.schema)),
          ),
        );
      expect(errorSchemas(operations.filter(([route]) => !openAiCompatible(route)))).toEqual(
        new Set([JSON.stringify({ $ref: '#/components/schemas/ErrorResponse' })]),
      );
      expect(errorSchemas(operations.filter(([route]) => openAiCompatible(route)))).toEqual(
        new Set([JSON.stringify({ $ref: '#/components/schemas/OpenAiErrorResponse' })]),
      );
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
    expect(unknown.body).toEqual({ statusCode: 404, error: 'Cannot GET /api/nothing-here', request_id: expect.any(String) });

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
    expect(res.body).toEqual({ statusCode: 413, error: 'Request body too large', request_id: expect.any(String) });
  });
});
