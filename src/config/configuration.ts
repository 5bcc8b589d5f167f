import { ConfigType, registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { environment } from './environment';

export const httpConfig = registerAs('http', () => {
  const env = environment();
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    corsOrigins: env.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  };
});

export const storageConfig = registerAs('storage', () => {
  const env = environment();
  const dataDir = resolve(env.DATA_DIR);
  return {
    dataDir,
    uploadDir: resolve(dataDir, 'uploads'),
    uploadMaxBytes: env.UPLOAD_MAX_BYTES,
  };
});

export const databaseConfig = registerAs('database', () => {
  const env = environment();
  return env.DATABASE_URL
    ? ({ kind: 'postgres', url: env.DATABASE_URL } as const)
    : ({ kind: 'sqlite', file: resolve(env.DATA_DIR, 'infini.db') } as const);
});

export type HttpConfig = ConfigType<typeof httpConfig>;
export type StorageConfig = ConfigType<typeof storageConfig>;
export type DatabaseConfig = ConfigType<typeof databaseConfig>;
