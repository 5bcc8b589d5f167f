import Database from 'better-sqlite3';
import { CommandError } from '../command-error';

/** A row of the old database as SQLite returns it: its columns by name, each of whatever type was stored. */
export type LegacyRow = Record<string, unknown> & { id: number };

/**
 * The columns of the old backend's tables that every version had; the others (added later by its ALTER TABLE
 * statements, e.g. `brands.sort_order`, `servers.agent_port`, `services.deploy_result`) may be missing and get defaults.
 */
const REQUIRED_COLUMNS = {
  brands: ['id', 'name'],
  models: ['id', 'name'],
  accelerator_cards: ['id', 'brand_id', 'name', 'model'],
  servers: ['id', 'name', 'host_ip', 'username'],
  services: ['id', 'name', 'model_id', 'server_ids'],
  chat_history: ['id', 'service_id', 'role', 'content'],
  tasks: ['id', 'name', 'command', 'server_id', 'schedule_type'],
} as const;

export type LegacyTable = keyof typeof REQUIRED_COLUMNS;
/** In the order they are imported: each after the tables it refers to. */
export const LEGACY_TABLES = Object.keys(REQUIRED_COLUMNS) as LegacyTable[];

/** The old Flask backend's SQLite file (`infini.db`), opened read-only. */
export class LegacyDatabase {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** Opens `path` and checks that it is the old backend's database; throws a CommandError saying why not. */
  static open(path: string): LegacyDatabase {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (error) {
      throw new CommandError(`Cannot open ${path}: ${(error as Error).message}`);
    }
    const legacy = new LegacyDatabase(db, path);
    try {
      legacy.checkSchema();
      return legacy;
    } catch (error) {
      legacy.close();
      throw error instanceof CommandError ? error : new CommandError(`Cannot read ${path}: ${(error as Error).message}`);
    }
  }

  /** Every row of `table`, in id order. */
  rows(table: LegacyTable): LegacyRow[] {
    return this.all<LegacyRow>(`SELECT * FROM "${table}" ORDER BY id`);
  }

  close(): void {
    this.db.close();
  }

  private checkSchema(): void {
    const tables = new Set(this.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`).map((row) => row.name));
    // Our own database has the same seven tables: importing it into itself would only make a mess.
    if (tables.has('migrations')) throw new CommandError(`${this.path} is a database of this backend, not of the old Flask backend`);
    const problems: string[] = [];
    for (const [table, required] of Object.entries(REQUIRED_COLUMNS)) {
      if (!tables.has(table)) {
        problems.push(`no table ${table}`);
        continue;
      }
      const columns = new Set(this.all<{ name: string }>(`PRAGMA table_info("${table}")`).map((column) => column.name));
      const missing = required.filter((column) => !columns.has(column));
      if (missing.length > 0) problems.push(`${table} lacks ${missing.join(', ')}`);
    }
    if (problems.length > 0) throw new CommandError(`${this.path} is not a database of the old Flask backend: ${problems.join('; ')}`);
  }

  private all<T>(sql: string): T[] {
    return this.db.prepare(sql).all() as T[];
  }
}
