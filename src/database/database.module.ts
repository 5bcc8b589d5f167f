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
        const dataSource = new DataSource(options!);
        if (dataSource.options.type !== 'sqlite') return dataSource;
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
