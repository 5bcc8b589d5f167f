import { ColumnType } from 'typeorm';

/**
 * Entity decorators are evaluated when their module is imported, before Nest's configuration exists,
 * so the driver is read from the environment here. SQLite has no time-zone-aware type: TypeORM stores
 * `datetime` as UTC text; PostgreSQL gets a real `timestamptz`.
 */
const usesPostgres = /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '');

export const TIMESTAMP_COLUMN: ColumnType = usesPostgres ? 'timestamptz' : 'datetime';
