import { AsyncLocalStorage } from 'node:async_hooks';
import { Statement } from 'better-sqlite3';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { IsolationLevel } from 'typeorm/driver/types/IsolationLevel';
import { BetterSqlite3Driver } from 'typeorm/driver/better-sqlite3/BetterSqlite3Driver';
import { BetterSqlite3QueryRunner } from 'typeorm/driver/better-sqlite3/BetterSqlite3QueryRunner';

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
 * TypeORM's SQLite driver sends every request's statements down one connection, through one shared query
 * runner: a statement that arrives while another request's transaction is open becomes part of that transaction
 * and commits or rolls back with it. Instead, each caller gets a query runner of its own and the runners take
 * turns on the connection: one keeps it from BEGIN until its transaction ends (or it is released), statements
 * outside it wait until it ends. Call before initialisation, so the start-up migrations take turns too.
 */
export function takeTurnsOnSqlite(dataSource: DataSource): void {
  const driver = dataSource.driver as BetterSqlite3Driver;
  const turns = new Turns();
  const preparedStatements = new Map<string, Statement>();
  driver.createQueryRunner = () => new TurnTakingQueryRunner(driver, turns, preparedStatements);
}

/**
 * The connection's schedule. Statements outside transactions may overlap: each is a transaction of its own, and
 * better-sqlite3 runs each at once, synchronously. A transaction waits until those in flight are done and then has the
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

class TurnTakingQueryRunner extends BetterSqlite3QueryRunner {
  /** Set while this runner's transaction has the connection. */
  private endTurn?: () => void;

  constructor(
    driver: BetterSqlite3Driver,
    private readonly turns: Turns,
    preparedStatements: Map<string, Statement>,
  ) {
    super(driver);
    // TypeORM keeps prepared statements per runner, and a runner here lasts one statement or one transaction: one
    // cache for the connection's runners saves a prepare per statement (about 15 µs of a 35 µs UPDATE).
    (this as unknown as { stmtCache: Map<string, Statement> }).stmtCache = preparedStatements;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeORM's QueryRunner.query() returns Promise<any>; an override must too
  override async query(query: string, parameters?: unknown[], useStructuredResult?: boolean): Promise<any> {
    if (this.endTurn) return this.queryReportingFailures(query, parameters, useStructuredResult);
    return this.turns.statement(() => this.queryReportingFailures(query, parameters, useStructuredResult));
  }

  /**
   * TypeORM's runner prepares a statement before its try: a statement that cannot be prepared (no such table, a syntax
   * error) would fail with a bare SqliteError, without the SQL. It fails as a QueryFailedError, as every other does.
   */
  private async queryReportingFailures(query: string, parameters?: unknown[], useStructuredResult?: boolean): Promise<unknown> {
    try {
      return await super.query(query, parameters, useStructuredResult);
    } catch (error) {
      if (error instanceof QueryFailedError) throw error;
      this.driver.connection.logger.logQueryError(error as Error, query, parameters, this);
      throw new QueryFailedError(query, parameters, error as Error);
    }
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
