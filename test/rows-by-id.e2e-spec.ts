import { DataSource } from 'typeorm';
import { RowsById } from '../src/database/rows-by-id';
import { AuditEvent } from '../src/modules/audit/audit-event.entity';
import { Server } from '../src/modules/servers/server.entity';
import { Task } from '../src/modules/tasks/task.entity';
import { TaskRun } from '../src/modules/tasks/task-run.entity';
import { startTestApp, TestApp } from './helpers/test-app';

/** RowsById against TypeORM's own statements, on the database of the run (SQLite, or PostgreSQL in CI's second run). */
describe('RowsById', () => {
  let testApp: TestApp;
  let dataSource: DataSource;
  let rows: RowsById<Task>;
  let serverId: number;

  beforeAll(async () => {
    testApp = await startTestApp();
    dataSource = testApp.app.get(DataSource);
    rows = new RowsById(dataSource.manager, Task);
    const server = await dataSource.getRepository(Server).save({ name: 'gpu-1', host_ip: '127.0.0.1', port: 22, username: 'u' });
    serverId = server.id;
  });
  afterAll(() => testApp.close());

  const newTask = () =>
    dataSource.getRepository(Task).save({ name: 'nightly', command: "echo 'hi'", server_id: serverId, schedule_type: 'once', enabled: false });
  const stored = async (id: number) => (await dataSource.query(`SELECT status, last_run, result, enabled FROM tasks WHERE id = ${id}`))[0] as unknown;

  it('stores a date, JSON and a boolean exactly as TypeORM update does', async () => {
    const [byTypeOrm, byRows] = [await newTask(), await newTask()];
    const fields = {
      status: 'completed',
      last_run: new Date('2026-12-02T15:50:36.123Z'),
      result: { output: 'ünïcode\n', error: '', success: true },
      enabled: true,
    };

    await dataSource.getRepository(Task).update({ id: byTypeOrm.id }, fields);
    await rows.update(byRows.id, fields);

    expect(await stored(byRows.id)).toEqual(await stored(byTypeOrm.id));
    expect(await dataSource.getRepository(Task).findOneByOrFail({ id: byRows.id })).toMatchObject(fields);
  });

  it('reads back the typed values findOneBy gives, only the columns asked for', async () => {
    const task = await newTask();
    await rows.update(task.id, { last_run: new Date('2026-01-31T23:59:59.999Z'), result: { output: 'x', error: 'y', success: false } });

    const read = await rows.find(task.id, ['id', 'command', 'enabled', 'timeout_seconds', 'last_run', 'result']);

    const full = await dataSource.getRepository(Task).findOneByOrFail({ id: task.id });
    expect(read).toEqual({
      id: full.id,
      command: "echo 'hi'",
      enabled: false,
      timeout_seconds: 3600,
      last_run: full.last_run,
      result: { output: 'x', error: 'y', success: false },
    });
    expect(read?.last_run).toEqual(new Date('2026-01-31T23:59:59.999Z'));
  });

  it('finds nothing for an unknown id, and an update of an unknown id or of no fields changes nothing', async () => {
    const task = await newTask();
    const before = await stored(task.id);

    await rows.update(task.id + 1000, { status: 'failed' });
    await rows.update(task.id, {});

    expect(await rows.find(task.id + 1000, ['id'])).toBeNull();
    expect(await stored(task.id)).toEqual(before);
  });

  it('sends the same statement text for every id, the id bound, so a prepared statement serves them all', async () => {
    const [first, second] = [await newTask(), await newTask()];
    const sent = jest.spyOn(dataSource.manager, 'query');
    await rows.find(first.id, ['status']);
    await rows.find(second.id, ['status']);
    await rows.update(first.id, { status: 'failed' });
    await rows.update(second.id, { status: 'failed' });
    const calls = [...sent.mock.calls];
    sent.mockRestore();
    const [findFirst, findSecond, updateFirst, updateSecond] = calls;
    expect(findSecond[0]).toBe(findFirst[0]);
    expect(updateSecond[0]).toBe(updateFirst[0]);
    expect([findFirst[1], findSecond[1], updateFirst[1], updateSecond[1]]).toEqual([
      [first.id],
      [second.id],
      ['failed', first.id],
      ['failed', second.id],
    ]);
  });

  it('inserts rows in one statement, stored exactly as TypeORM insert stores them', async () => {
    const events = new RowsById(dataSource.manager, AuditEvent);
    const event = (action: string, username: string | null) => ({
      at: new Date('2026-12-03T06:50:00.125Z'),
      username,
      ip: null,
      action,
      target: 'task:7',
      detail: '{"command":"echo ünïcode"}',
    });
    const storedEvent = (action: string) =>
      dataSource.query<unknown[]>(`SELECT at, username, ip, target, detail FROM audit_events WHERE action = '${action}' ORDER BY id`);
    await dataSource.getRepository(AuditEvent).insert([event('by.typeorm', 'admin'), event('by.typeorm', null)]);
    const sent = jest.spyOn(dataSource.manager, 'query');
    await events.insert([event('by.rows', 'admin'), event('by.rows', null)]);
    const statements = sent.mock.calls.length;
    sent.mockRestore();

    expect(statements).toBe(1);
    expect(await storedEvent('by.rows')).toEqual(await storedEvent('by.typeorm'));
    expect(await dataSource.getRepository(AuditEvent).findBy({ action: 'by.rows' })).toMatchObject([
      event('by.rows', 'admin'),
      event('by.rows', null),
    ]);
  });

  it('inserts one row and returns its new id, in one statement whose text is the same for every task', async () => {
    const [first, second] = [await newTask(), await newTask()];
    const runs = new RowsById(dataSource.manager, TaskRun);
    const run = (taskId: number) => ({
      task_id: taskId,
      trigger: 'schedule' as const,
      scheduled_for: new Date('2026-12-03T15:00:00.000Z'),
      started_at: new Date('2026-12-03T15:00:00.250Z'),
      finished_at: null,
      status: 'running' as const,
      exit_status: null,
      duration_ms: null,
      output: '',
      error: '',
    });
    const sent = jest.spyOn(dataSource.manager, 'query');
    const firstId = await runs.insertOne(run(first.id));
    const secondId = await runs.insertOne(run(second.id));
    const calls = [...sent.mock.calls];
    sent.mockRestore();

    expect(calls).toHaveLength(2);
    expect(calls[1][0]).toBe(calls[0][0]);
    expect(secondId).toBeGreaterThan(firstId);
    expect(await dataSource.getRepository(TaskRun).findOneByOrFail({ id: secondId })).toMatchObject({ ...run(second.id), id: secondId });
  });

  it('refuses an insert with a property left undefined, before sending anything', async () => {
    const events = new RowsById(dataSource.manager, AuditEvent);
    await expect(events.insert([{ at: new Date(), action: 'x', username: undefined }])).rejects.toThrow('AuditEvent row without username');
    expect(await dataSource.getRepository(AuditEvent).countBy({ action: 'x' })).toBe(0);
  });

  it('refuses a property the entity has no column for, before sending anything', async () => {
    await expect(rows.update(1, { nonsense: 1 } as Partial<Task>)).rejects.toThrow('Task has no column nonsense');
  });
});
