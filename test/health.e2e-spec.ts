import { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './helpers/test-app';

describe('GET /api/health', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('reports the database up', async () => {
    const res = await t.http.get('/api/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', db: 'up', redis: 'off' });
  });

  // Last: it takes the database away from this application.
  it('answers 503 with the error body when the database is gone', async () => {
    await t.app.get(DataSource).destroy();
    const res = await t.http.get('/api/health').expect(503);
    // A 5xx body names the request, so that a user can quote it; it is the id the header carries.
    expect(res.body).toEqual({ statusCode: 503, error: 'Database unavailable', request_id: expect.stringMatching(/^[\w-]{36}$/) });
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
  });
});
