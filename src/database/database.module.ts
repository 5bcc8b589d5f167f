import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { databaseConfig, DatabaseConfig } from '../config/configuration';
import { buildDataSourceOptions } from './data-source.options';
import { DatabaseHealthService } from './database-health.service';
import { ReadCache } from './read-cache.service';
import { takeTurnsOnSqlite, Transactions } from './transactions.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: DatabaseConfig) => ({ ...buildDataSourceOptions(config), retryAttempts: 3, retryDelay: 1000 }),
      // Before initialisation, which runs the migrations: they too must take turns on SQLite's one connection.
      dataSourceFactory: async (options) => {
        if (options!.type === 'postgres') return migratedOneAtATime(new DataSource({ ...options, migrationsRun: false }));
        const dataSource = new DataSource(options!);
        if (dataSource.options.type !== 'better-sqlite3') return dataSource;
        takeTurnsOnSqlite(dataSource);
        await dataSource.initialize();
        // With WAL, NORMAL syncs the log at checkpoints rather than at every commit: a commit survives a crash of the
        // backend at once, and a power loss or OS crash from the next checkpoint on; the file is never corrupted.
        await dataSource.query('PRAGMA synchronous = NORMAL');
        return dataSource;
      },
    }),
  ],
  providers: [DatabaseHealthService, ReadCache, Transactions],
  exports: [DatabaseHealthService, ReadCache, Transactions],
})
export class DatabaseModule {}

/** Any constant, the same in every instance: the advisory lock under which PostgreSQL is migrated. */
const MIGRATION_LOCK_KEY = 4_721_190_033;

/**
 * Instances started together on a fresh PostgreSQL database (a scaled deployment) would all run the migrations, and
 * all but one fail on tables that now exist: they take turns under an advisory lock, and the later ones find nothing
 * left to run.
 */
async function migratedOneAtATime(dataSource: DataSource): Promise<DataSource> {
  await dataSource.initialize();
  const lockHolder = dataSource.createQueryRunner();
  try {
    await lockHolder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations({ transaction: 'all' });
    await lockHolder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await lockHolder.release();
    return dataSource;
  } catch (error) {
    // Closing the connections also ends the lock holder's session, and with it the lock.
    await dataSource.destroy();
    throw error;
  }
}
