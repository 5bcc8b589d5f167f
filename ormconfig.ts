import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from './src/config/configuration';
import { buildDataSourceOptions } from './src/database/data-source.options';

/** The data source the TypeORM CLI uses (`npm run typeorm -- migration:generate …`). */
export default new DataSource({ ...buildDataSourceOptions(databaseConfig()), migrationsRun: false });
