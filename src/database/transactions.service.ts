import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';
import { SqliteDriver } from 'typeorm/driver/sqlite/SqliteDriver';
import { SqliteQueryRunner } from 'typeorm/driver/sqlite/SqliteQueryRunner';

/** Runs units of work in database transactions. */
@Injectable()
export class Transactions {
  /** The manager of the unit of work the caller runs inside, if any. */
  private readonly current = new AsyncLocalStorage<EntityManager>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Runs `work` in a transaction, or in a savepoint of the transaction it is called inside. Inside `work`,
   * use only `manager`: on SQLite any other statement waits for the transaction to end.
   */
  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const outer = this.current.getStore();
    // A second transaction would wait for the outer one forever on SQLite (see takeTurnsOnSqlite).
    if (outer?.queryRunner?.isTransactionActive) return outer.transaction(work);
    return this.dataSource.transaction((manager) => this.current.run(manager, () => work(manager)));
  }
}

/**
 * TypeORM's sqlite3 driver sends every request's statements down one connection, through one shared query
 * runner: a statement that arrives while another request's transaction is open becomes part of that transaction
 * and commits or rolls back with it. Instead, each caller gets a query runner of its own and the runners take
 * turns on the connection: one keeps it from BEGIN until its transaction ends (or it is released), statements
 * outside it wait until it ends. Call before initialisation, so the start-up migrations take turns too.
 */
export function takeTurnsOnSqlite(dataSource: DataSource): void {
  const driver = dataSource.driver as SqliteDriver;
  const turns = new Turns();
  driver.createQueryRunner = () => new TurnTakingQueryRunner(driver, turns);
}

/**
 * The connection's schedule. Statements outside transactions may overlap: each is a transaction of its own, and
 * node-sqlite3 runs them one after another. A transaction waits until those in flight are done and then has the
 * connection alone until it ends. First come, first served: a waiting transaction holds back later statements.
 */
class Turns {
  private statements = 0;
  private transaction = false;
  private readonly waiting: { transaction: boolean; start: () => void }[] = [];

  async statement<T>(run: () => Promise<T>): Promise<T> {
    if (this.transaction || this.waiting.length > 0) await new Promise<void>((start) => this.waiting.push({ transaction: false, start }));
    else this.statements++;
    try {
      return await run();
    } finally {
      this.statements--;
      this.admit();
    }
  }

  /** Resolves, once the connection is the transaction's alone, to the function that hands it on. */
  async transactionTurn(): Promise<() => void> {
    if (this.transaction || this.statements > 0 || this.waiting.length > 0)
      await new Promise<void>((start) => this.waiting.push({ transaction: true, start }));
    else this.transaction = true;
    return () => {
      this.transaction = false;
      this.admit();
    };
  }

  private admit(): void {
    while (!this.transaction && this.waiting.length > 0) {
      const next = this.waiting[0];
      if (next.transaction && this.statements > 0) return;
      if (next.transaction) this.transaction = true;
      else this.statements++;
      this.waiting.shift();
      next.start();
    }
  }
}

class TurnTakingQueryRunner extends SqliteQueryRunner {
  /** Set while this runner's transaction has the connection. */
  private endTurn?: () => void;

  constructor(
    driver: SqliteDriver,
    private readonly turns: Turns,
  ) {
    super(driver);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeORM's QueryRunner.query() returns Promise<any>; an override must too
  override async query(query: string, parameters?: unknown[], useStructuredResult?: boolean): Promise<any> {
    if (this.endTurn) return super.query(query, parameters, useStructuredResult);
    return this.turns.statement(() => super.query(query, parameters, useStructuredResult));
  }

  override async startTransaction(isolationLevel?: IsolationLevel): Promise<void> {
    this.endTurn ??= await this.turns.transactionTurn();
    try {
      await super.startTransaction(isolationLevel);
    } catch (error) {
      this.handOnOnceEnded();
      throw error;
    }
  }

  override async commitTransaction(): Promise<void> {
    try {
      await super.commitTransaction();
    } finally {
      // A failed COMMIT leaves the transaction open for the ROLLBACK that follows.
      this.handOnOnceEnded();
    }
  }

  override async rollbackTransaction(): Promise<void> {
    try {
      await super.rollbackTransaction();
    } finally {
      this.handOnOnceEnded();
    }
  }

  override async release(): Promise<void> {
    // A transaction whose ROLLBACK failed, or that its owner never ended, must not keep the connection.
    if (this.endTurn) {
      await super.query('ROLLBACK').catch(() => undefined);
      this.handOn();
    }
    await super.release();
  }

  private handOnOnceEnded(): void {
    if (!this.isTransactionActive) this.handOn();
  }

  private handOn(): void {
    this.endTurn?.();
    this.endTurn = undefined;
  }
}
