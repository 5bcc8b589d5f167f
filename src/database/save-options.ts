import { SaveOptions } from 'typeorm';

/**
 * For saving one new row: a single INSERT is atomic by itself, and TypeORM's implicit transaction around it
 * would collide with concurrent requests' transactions on SQLite's one shared connection.
 */
export const SINGLE_ROW: SaveOptions = { transaction: false };
