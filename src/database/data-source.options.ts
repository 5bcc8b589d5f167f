import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import { DataSourceOptions } from 'typeorm';
import { ensureOwnerOnlyFile, ensurePrivateDirectory } from '../common/secret-file';
import { DatabaseConfig } from '../config/configuration';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { QueryLogger } from './query-logger';

const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * sqlite3 as TypeORM's driver, minus what its `verbose()` adds: a stack trace captured at every statement, which took
 * a tenth of a busy backend's CPU. A failing statement still reports its SQL and TypeORM's context.
 */
const sqliteWithoutTraces = { verbose: () => sqlite3 };

/** One definition of the connection, shared by the application and the TypeORM CLI (`ormconfig.ts`). */
export function buildDataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    logger: new QueryLogger(),
  };
  if (config.kind === 'postgres') {
    return { ...common, type: 'postgres', url: config.url, extra: { max: 10, connectionTimeoutMillis: 5000 } };
  }
  // SQLite cannot create the folder that holds its file, and would create the file readable by everyone.
  ensurePrivateDirectory(dirname(config.file));
  ensureOwnerOnlyFile(config.file, [`${config.file}-wal`, `${config.file}-shm`]);
  // TypeORM's SQLite driver turns foreign keys on for every connection; WAL and the busy timeout are ours.
  return { ...common, type: 'sqlite', driver: sqliteWithoutTraces, database: config.file, enableWAL: true, busyTimeout: SQLITE_BUSY_TIMEOUT_MS };
}
