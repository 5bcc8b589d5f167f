import { LoggerService } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { createApplication } from '../../src/app.factory';
import { ReadCache } from '../../src/database/read-cache.service';

/** The admin every test app starts with (ADMIN_USERNAME / ADMIN_PASSWORD). */
export const TEST_ADMIN = { username: 'admin', password: 'admin-test-password' };

export interface TestApp {
  app: NestExpressApplication;
  /** A supertest agent bound to the application's HTTP server, sending the admin's token (when auth is on). */
  http: TestAgent;
  /** A supertest agent with no credentials. */
  anonymous: TestAgent;
  /** The first admin's login token, or '' with AUTH_ENABLED=false or an empty ADMIN_PASSWORD. */
  adminToken: string;
  /** Signs in and returns the access token (expects success). */
  login(username: string, password: string): Promise<string>;
  /** The temp DATA_DIR (SQLite file and uploads). */
  dataDir: string;
  /** Raw SQL for arranging rows of tables whose modules do not exist yet, and for checking the schema did its job. */
  sql<T = Record<string, unknown>>(query: string, parameters?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Boots AppModule exactly as main.ts does, on a fresh temp DATA_DIR. With DATABASE_URL set (CI's
 * PostgreSQL run) the public schema is emptied first so every suite starts from the migrations.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  logger: LoggerService | false = false,
  /**
   * Another instance's data: a second backend on the same database (not reset) and DATA_DIR (not removed); or data a
   * suite arranged before the backend's first start.
   */
  sharing?: Pick<TestApp, 'dataDir'>,
): Promise<TestApp> {
  const dataDir = sharing?.dataDir ?? mkdtempSync(join(tmpdir(), 'infini-test-'));
  const saved = { ...process.env };
  // The periodic service sync and the task scheduler are off unless a suite asks for them, so tests control
  // when agents are queried and when commands run.
  Object.assign(process.env, {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    SERVICE_SYNC_INTERVAL_MS: '0',
    SCHEDULER_ENABLED: 'false',
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    ...env,
  });
  if (process.env.DATABASE_URL && !sharing) await resetPostgres(process.env.DATABASE_URL);
  const app = await createApplication(logger);
  await app.init();
  const dataSource = app.get(DataSource);
  const cache = app.get(ReadCache);
  const anonymous = request(app.getHttpServer());
  const login = async (username: string, password: string): Promise<string> => {
    const response = await anonymous.post('/api/auth/login').send({ username, password });
    if (response.status !== 200) throw new Error(`Login of ${username} failed: ${response.status} ${JSON.stringify(response.body)}`);
    return (response.body as { access_token: string }).access_token;
  };
  // No sign-in with auth off, or when the suite lets the backend generate the admin's password.
  const adminToken = process.env.AUTH_ENABLED === 'false' || !process.env.ADMIN_PASSWORD ? '' : await login(TEST_ADMIN.username, TEST_ADMIN.password);
  const http = request.agent(app.getHttpServer());
  if (adminToken) http.set('Authorization', `Bearer ${adminToken}`);
  return {
    app,
    http,
    anonymous,
    adminToken,
    login,
    dataDir,
    async sql<T>(query: string, parameters?: unknown[]): Promise<T[]> {
      const rows = await dataSource.query<T[]>(query, parameters);
      // Raw SQL bypasses the repositories, which are what keep the read cache honest.
      cache.clear();
      return rows;
    },
    async close() {
      await app.close();
      process.env = saved;
      if (!sharing) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a PostgreSQL run needs before a suite: the migrations start from an empty schema. */
export async function resetPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  } finally {
    await client.end();
  }
}

/** `$1, $2…` on PostgreSQL, `?` on SQLite: placeholders for `sql()` in either run. */
export function placeholder(index: number): string {
  return process.env.DATABASE_URL ? `$${index}` : '?';
}
