import { DataSource, EntitySubscriberInterface } from 'typeorm';
import { Transactions } from '../src/database/transactions.service';
import { AcceleratorCard } from '../src/modules/inventory/entities/accelerator-card.entity';
import { Brand } from '../src/modules/inventory/entities/brand.entity';
import { startTestApp, TestApp } from './helpers/test-app';

const CONCURRENT_INSERTS = 200;
/** How many of the concurrent inserts the failing transaction lets reach the database before it fails. */
const ISSUED_BEFORE_FAILURE = 50;
const sqliteOnly = process.env.DATABASE_URL ? it.skip : it;

/**
 * Requests' writes against other requests' transactions. On SQLite all of them share one connection, so this
 * is where a write could commit or roll back with a transaction it has nothing to do with.
 */
describe('database: writes are isolated from concurrent transactions', () => {
  let t: TestApp;
  let transactions: Transactions;
  let dataSource: DataSource;

  beforeAll(async () => {
    // Without authentication a brand POST issues no statement before its INSERT, so a transaction can wait
    // for the INSERTs themselves.
    t = await startTestApp({ AUTH_ENABLED: 'false' });
    transactions = t.app.get(Transactions);
    dataSource = t.app.get(DataSource);
  });
  afterAll(() => t.close());
  beforeEach(() => t.sql('DELETE FROM brands'));

  /** Resolves once `count` brand INSERTs have been issued: TypeORM calls beforeInsert just before sending one. */
  function brandInsertsIssued(count: number): Promise<void> {
    return new Promise((resolve) => {
      let issued = 0;
      const subscriber: EntitySubscriberInterface<Brand> = {
        listenTo: () => Brand,
        beforeInsert: () => {
          if (++issued < count) return;
          dataSource.subscribers.splice(dataSource.subscribers.indexOf(subscriber), 1);
          resolve();
        },
      };
      dataSource.subscribers.push(subscriber);
    });
  }

  /** POSTs all the brands at once, once `start` resolves; from the test's context, as other requests would. */
  async function postBrands(start: Promise<void>, count: number): Promise<{ status: number; id: number; name: string }[]> {
    await start;
    const names = Array.from({ length: count }, (_, index) => `request ${index}`);
    const responses = await Promise.all(names.map((name) => t.http.post('/api/brands').send({ name })));
    return responses.map((response, index) => ({ status: response.status, id: response.body.id, name: names[index] }));
  }

  /** Stored brands by id: an id alone could have been handed out again after a rollback. */
  async function storedBrands(): Promise<Map<number, string>> {
    const rows = await t.sql<{ id: number; name: string }>('SELECT id, name FROM brands');
    return new Map(rows.map((row) => [Number(row.id), row.name]));
  }

  function storedNames(stored: Map<number, string>): string[] {
    return [...stored.values()].sort();
  }

  it('a transaction that fails after its first statement takes none of 200 concurrent inserts with it', async () => {
    let openTransaction!: () => void;
    const transactionOpen = new Promise<void>((resolve) => (openTransaction = resolve));
    const posts = postBrands(transactionOpen, CONCURRENT_INSERTS);

    const failing = transactions.run(async (manager) => {
      await manager.insert(Brand, { name: 'rolled back' });
      const issued = brandInsertsIssued(ISSUED_BEFORE_FAILURE);
      openTransaction();
      await issued;
      throw new Error('the unit of work fails');
    });

    await expect(failing).rejects.toThrow('the unit of work fails');
    const responses = await posts;
    expect(responses.filter((response) => response.status !== 201)).toEqual([]);
    const stored = await storedBrands();
    expect(storedNames(stored)).not.toContain('rolled back');
    const lost = responses.filter((response) => stored.get(response.id) !== response.name);
    expect(lost).toEqual([]);
    expect(stored.size).toBe(CONCURRENT_INSERTS);
  });

  it('a transaction that commits among concurrent inserts is visible afterwards, and so are they', async () => {
    let openTransaction!: () => void;
    const transactionOpen = new Promise<void>((resolve) => (openTransaction = resolve));
    const posts = postBrands(transactionOpen, 50);

    await transactions.run(async (manager) => {
      await manager.insert(Brand, { name: 'committed' });
      const issued = brandInsertsIssued(10);
      openTransaction();
      await issued;
      await manager.insert(Brand, { name: 'committed too' });
    });

    const responses = await posts;
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(201));
    const stored = await storedBrands();
    expect(storedNames(stored)).toEqual(expect.arrayContaining(['committed', 'committed too']));
    expect(responses.filter((response) => stored.get(response.id) !== response.name)).toEqual([]);
    expect(stored.size).toBe(52);
    const listed = (await t.http.get('/api/brands').expect(200)).body as Brand[];
    expect(listed.map((brand) => brand.name)).toEqual(expect.arrayContaining(['committed', 'committed too']));
  });

  it('a unit of work started inside another joins it: no deadlock, and its failure undoes only its own writes', async () => {
    await transactions.run(async (manager) => {
      await manager.insert(Brand, { name: 'outer' });
      await transactions.run((inner) => inner.insert(Brand, { name: 'inner' }));
      await expect(
        transactions.run(async (inner) => {
          await inner.insert(Brand, { name: 'inner, failed' });
          throw new Error('the inner unit fails');
        }),
      ).rejects.toThrow('the inner unit fails');
    });

    expect(storedNames(await storedBrands())).toEqual(['inner', 'outer']);
  });

  it('a failing statement outside a transaction leaves the database usable by the next transaction and request', async () => {
    const results = await Promise.allSettled([
      t.sql('SELECT id FROM no_such_table'),
      transactions.run((manager) => manager.insert(Brand, { name: 'after the failure' })),
      t.http.post('/api/brands').send({ name: 'posted after the failure' }),
    ]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    await t.http.post('/api/brands').send({ name: 'posted later' }).expect(201);
    expect(storedNames(await storedBrands())).toEqual(['after the failure', 'posted after the failure', 'posted later']);
  });

  sqliteOnly('a transaction whose COMMIT fails is rolled back and hands the connection on', async () => {
    // Deferred foreign keys make SQLite refuse the COMMIT itself rather than the INSERT.
    const failing = transactions.run(async (manager) => {
      await manager.query('PRAGMA defer_foreign_keys = ON');
      await manager.insert(Brand, { name: 'with an orphan card' });
      await manager.insert(AcceleratorCard, { brand_id: 987654, name: 'orphan', model: 'orphan' });
    });

    await expect(failing).rejects.toThrow(/FOREIGN KEY constraint failed/);
    await t.http.post('/api/brands').send({ name: 'posted after the failed commit' }).expect(201);
    expect(storedNames(await storedBrands())).toEqual(['posted after the failed commit']);
  });
});
