import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source.options';
import { MIGRATIONS } from '../src/database/migrations';
import { ServiceServers1796085753200 } from '../src/database/migrations/1796085753200-service-servers';
import { placeholder, resetPostgres, startTestApp } from './helpers/test-app';

/** A database migrated up to, but not including, `last`; on SQLite in `dataDir`, on PostgreSQL in an emptied schema. */
async function migratedUpTo(last: (typeof MIGRATIONS)[number], dataDir: string): Promise<DataSource> {
  const url = process.env.DATABASE_URL;
  if (url) await resetPostgres(url);
  const config = url ? ({ kind: 'postgres', url } as const) : ({ kind: 'sqlite', file: join(dataDir, 'infini.db') } as const);
  const dataSource = new DataSource({ ...buildDataSourceOptions(config), migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(last)), logging: false });
  await dataSource.initialize();
  return dataSource;
}

function params(count: number): string {
  return Array.from({ length: count }, (_, index) => placeholder(index + 1)).join(', ');
}

describe('migration to the service_servers join table', () => {
  let dataDir: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'infini-migration-'));
    dataSource = await migratedUpTo(ServiceServers1796085753200, dataDir);
    await dataSource.query(`INSERT INTO models (id, name) VALUES (1, 'jiuge')`);
    for (const id of [1, 2, 3]) {
      await dataSource.query(`INSERT INTO servers (id, name, host_ip, username) VALUES (${params(4)})`, [id, `gpu-${id}`, '127.0.0.1', 'root']);
    }
    const lists: [number, string][] = [
      [1, '[3,1]'],
      // A deleted server (9), a duplicate and an id stored as text, as older writers left them.
      [2, '[2, 9, 2, "1"]'],
      [3, '[]'],
      [4, 'not json'],
      [5, '{"id": 1}'],
    ];
    for (const [id, serverIds] of lists) {
      await dataSource.query(`INSERT INTO services (id, name, model_id, server_ids) VALUES (${params(4)})`, [id, `svc-${id}`, 1, serverIds]);
    }
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('converts every list in order, dropping ids of missing servers, duplicates and what is not a list of ids', async () => {
    await dataSource.destroy();
    // The backend's first start runs the pending migration.
    const t = await startTestApp({}, false, { dataDir });
    try {
      const services = (await t.http.get('/api/services').expect(200)).body as { id: number; server_ids: number[] }[];
      const serverIds = Object.fromEntries(services.map((service) => [service.id, service.server_ids]));
      expect(serverIds).toEqual({ 1: [3, 1], 2: [2, 1], 3: [], 4: [], 5: [] });
      await t.http.delete('/api/servers/3').expect(409);
    } finally {
      await t.close();
    }
  });

  it('reverts to the JSON column with the same lists', async () => {
    await dataSource.destroy();
    const migrated = new DataSource({ ...dataSource.options, migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(ServiceServers1796085753200) + 1) });
    await migrated.initialize();
    try {
      await migrated.runMigrations();
      await migrated.undoLastMigration();
      const rows = await migrated.query<{ id: number; server_ids: string }[]>(`SELECT id, server_ids FROM services ORDER BY id`);
      expect(rows.map((row) => [row.id, JSON.parse(row.server_ids)])).toEqual([
        [1, [3, 1]],
        [2, [2, 1]],
        [3, []],
        [4, []],
        [5, []],
      ]);
    } finally {
      await migrated.destroy();
    }
  });
});
