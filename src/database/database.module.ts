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
      dataSourceFactory: (options) => {
        const dataSource = new DataSource(options!);
        if (dataSource.options.type === 'sqlite') takeTurnsOnSqlite(dataSource);
        return Promise.resolve(dataSource);
      },
    }),
  ],
  providers: [DatabaseHealthService, ReadCache, Transactions],
  exports: [DatabaseHealthService, ReadCache, Transactions],
})
export class DatabaseModule {}
