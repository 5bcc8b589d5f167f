import { SaveOptions } from 'typeorm';

/**
 * For saving one new row: a single INSERT is atomic by itself, so TypeORM's implicit transaction around it would
 * only cost a BEGIN and a COMMIT (and, on SQLite, a turn of its own on the one connection).
 */
export const SINGLE_ROW: SaveOptions = { transaction: false };
