import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { ensureOwnerOnlyFile, ensurePrivateDirectory } from '../common/secret-file';
import { DatabaseConfig } from '../config/configuration';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { QueryLogger } from './query-logger';

const SQLITE_BUSY_TIMEOUT_MS = 5000;

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
  // better-sqlite3 runs a statement at once, on the event loop: tens of microseconds for the short statements a
  // request makes, where node-sqlite3's three thread-pool round trips (prepare, run, finalize) cost a few hundred.
  // TypeORM's SQLite driver turns foreign keys on for every connection; WAL and the busy timeout are ours.
  return { ...common, type: 'better-sqlite3', database: config.file, enableWAL: true, timeout: SQLITE_BUSY_TIMEOUT_MS };
}
