import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Transactions } from '../../database/transactions.service';
import { ChatMessage } from '../../modules/chat/chat-message.entity';
import { Service } from '../../modules/services/service.entity';
import { ServiceServer } from '../../modules/services/service-server.entity';

/** A row with the id it is inserted under (the old one where it is free). */
export type RowWithId<E> = Partial<E> & { id: number };

/**
 * The legacy import's reads and writes of our tables. The import is the one writer that spans every feature's tables,
 * and it sets ids itself, which the feature repositories never do.
 */
@Injectable()
export class LegacyImportRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly transactions: Transactions,
    private readonly cache: ReadCache,
  ) {}

  /** Every row of `entity`, with just `columns`: what recognises a row that is already here. */
  existing<E extends ObjectLiteral>(entity: EntityTarget<E>, columns: (keyof E & string)[]): Promise<E[]> {
    return this.dataSource.getRepository(entity).find({ select: columns });
  }

  /**
   * Keeps the database from handing out ids up to `upTo` (PostgreSQL's sequence does not see ids inserted
   * explicitly, so a running backend's next insert would collide with them). SQLite's AUTOINCREMENT follows explicit
   * ids by itself.
   */
  async reserveIds<E extends ObjectLiteral>(entity: EntityTarget<E>, upTo: number): Promise<void> {
    if (this.dataSource.options.type !== 'postgres') return;
    const table = this.dataSource.getMetadata(entity).tableName;
    await this.dataSource.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), GREATEST($2, nextval(pg_get_serial_sequence($1, 'id')) - 1))`, [
      table,
      upTo,
    ]);
  }

  insert<E extends ObjectLiteral>(entity: EntityTarget<E>, row: RowWithId<E>): Promise<void> {
    return insertWithId(this.dataSource.manager, entity, row);
  }

  /** A service with the servers it runs on, in order, and its chat history: all of it, or none. */
  insertService(service: RowWithId<Service>, serverIds: number[], messages: Partial<ChatMessage>[]): Promise<void> {
    return this.transactions.run(async (manager) => {
      await insertWithId(manager, Service, service);
      if (serverIds.length > 0) {
        await manager.insert(
          ServiceServer,
          serverIds.map((server_id, position) => ({ service_id: service.id, server_id, position })),
        );
      }
      // In chunks: SQLite takes at most 32766 parameters per statement.
      for (let start = 0; start < messages.length; start += 500) {
        await manager.insert(
          ChatMessage,
          messages.slice(start, start + 500).map((message) => ({ ...message, service_id: service.id })),
        );
      }
    });
  }

  /** Tells the read cache (and, through Redis, the running backends) that the imported tables changed. */
  forgetCachedReads(): void {
    this.cache.invalidate('brands', 'accelerator_cards', 'models', 'servers', 'services', 'chat_history', 'tasks');
  }
}

/**
 * An INSERT with the id given. TypeORM's insert leaves a generated id out on PostgreSQL, so the statement is built
 * here, each value converted as TypeORM would (dates, JSON, booleans).
 */
async function insertWithId<E extends ObjectLiteral>(manager: EntityManager, entity: EntityTarget<E>, row: RowWithId<E>): Promise<void> {
  const metadata = manager.connection.getMetadata(entity);
  const driver = manager.connection.driver;
  const columns = Object.keys(row)
    .filter((name) => row[name] !== undefined)
    .map((name) => metadata.findColumnWithPropertyName(name)!);
  const placeholders = columns.map((_, index) => (driver.options.type === 'postgres' ? `$${index + 1}` : '?'));
  await manager.query(
    `INSERT INTO ${driver.escape(metadata.tableName)} (${columns.map((column) => driver.escape(column.databaseName)).join(', ')}) VALUES (${placeholders.join(', ')})`,
    columns.map((column): unknown => driver.preparePersistentValue(row[column.propertyName], column)),
  );
}
