import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { takeTurnsOnSqlite } from './transactions.service';

describe('takeTurnsOnSqlite', () => {
  let folder: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'infini-turns-'));
    dataSource = new DataSource({ type: 'better-sqlite3', database: join(folder, 'db.sqlite'), enableWAL: true });
    takeTurnsOnSqlite(dataSource);
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE rows (id integer PRIMARY KEY AUTOINCREMENT, name varchar NOT NULL)');
  });
  afterEach(async () => {
    await dataSource.destroy();
    rmSync(folder, { recursive: true, force: true });
  });

  const insert = (name: string) => dataSource.query('INSERT INTO rows (name) VALUES (?)', [name]);
  const names = async (): Promise<string[]> => (await dataSource.query('SELECT name FROM rows ORDER BY id')).map((row: { name: string }) => row.name);

  it('keeps a statement issued during a transaction out of it: it runs after the rollback and stays', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query(`INSERT INTO rows (name) VALUES ('rolled back')`);
    const outside = insert('outside');
    // Had the INSERT above been sent down the connection, this SELECT would see it.
    expect(await runner.query('SELECT name FROM rows')).toEqual([{ name: 'rolled back' }]);
    await runner.rollbackTransaction();
    await runner.release();
    await outside;

    expect(await names()).toEqual(['outside']);
  });

  it('serves in order: a transaction waits for the statements before it, and holds back those after it', async () => {
    await Promise.all([
      insert('first'),
      dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO rows (name) VALUES ('second')`);
        await manager.query(`INSERT INTO rows (name) VALUES ('third')`);
      }),
      insert('fourth'),
    ]);

    expect(await names()).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('keeps the connection for the transaction through its savepoints', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.startTransaction();
    await runner.query(`INSERT INTO rows (name) VALUES ('savepoint')`);
    await runner.commitTransaction();
    const outside = insert('outside');
    await runner.rollbackTransaction();
    await runner.release();
    await outside;

    expect(await names()).toEqual(['outside']);
  });

  it('rolls back the open transaction of a runner that is released, and hands the connection on', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query(`INSERT INTO rows (name) VALUES ('abandoned')`);
    const outside = insert('outside');
    await runner.release();
    await outside;

    expect(await names()).toEqual(['outside']);
  });

  it('hands the connection on when a transaction cannot start', async () => {
    const runner = dataSource.createQueryRunner();
    await expect(runner.startTransaction('READ COMMITTED')).rejects.toThrow(/SQLite only supports/);
    await expect(dataSource.transaction('REPEATABLE READ', () => insert('never'))).rejects.toThrow(/SQLite only supports/);

    await insert('afterwards');
    expect(await names()).toEqual(['afterwards']);
  });

  it('hands the connection on after a failing statement, in a transaction or outside one', async () => {
    await expect(dataSource.query('SELECT id FROM no_such_table')).rejects.toThrow(/no such table/);
    await expect(dataSource.transaction((manager) => manager.query('SELECT id FROM no_such_table'))).rejects.toThrow(/no such table/);

    await dataSource.transaction((manager) => manager.query(`INSERT INTO rows (name) VALUES ('afterwards')`));
    expect(await names()).toEqual(['afterwards']);
  });
});
