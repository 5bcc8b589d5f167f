import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { RowsById } from '../../database/rows-by-id';
import { Transactions } from '../../database/transactions.service';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { SINGLE_ROW } from '../../database/save-options';

export interface TaskRow extends Omit<Task, 'server'> {
  server_name: string | null;
}

/** What running a task, and its audit event, read of it. */
export type RunnableTask = Pick<Task, 'id' | 'command' | 'server_id' | 'timeout_seconds' | 'command_set_by'>;
const RUNNABLE_COLUMNS: (keyof RunnableTask)[] = ['id', 'command', 'server_id', 'timeout_seconds', 'command_set_by'];

/** What the scheduler reads of a due task: to run it, and to plan its next slot. */
export type DueTask = RunnableTask & Pick<Task, 'next_run' | 'schedule_type' | 'cron_expression' | 'timezone' | 'run_at' | 'created_at'>;
const DUE_COLUMNS: (keyof DueTask)[] = [...RUNNABLE_COLUMNS, 'next_run', 'schedule_type', 'cron_expression', 'timezone', 'run_at', 'created_at'];

/** Slack beyond a run's timeout before a `running` row is taken for one a crash left behind. */
const RUN_GRACE_SECONDS = 60;

/** Ids per claiming statement, well within both databases' limits on bound parameters. */
const CLAIMS_PER_TRANSACTION = 1000;

/** SQLite hands raw datetimes back as UTC text without a zone. */
function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`);
}

/** A slot to take: the task's `next_run` is `due`, and becomes `next`. */
export interface SlotClaim {
  id: number;
  due: Date;
  next: Date | null;
}

export type TaskFields = Partial<
  Pick<
    Task,
    | 'name'
    | 'command'
    | 'command_set_by'
    | 'server_id'
    | 'schedule_type'
    | 'cron_expression'
    | 'timezone'
    | 'run_at'
    | 'enabled'
    | 'next_run'
    | 'timeout_seconds'
    | 'status'
    | 'last_run'
    | 'result'
  >
>;

@Injectable()
export class TasksRepository {
  /** Run history is not cached: runs are written directly, tasks through `writes`. */
  private readonly writes: CachedWrites;
  /** For the statements every run waits on. */
  private readonly taskRows: RowsById<Task>;
  private readonly runRows: RowsById<TaskRun>;

  constructor(
    @InjectRepository(Task) private readonly tasks: Repository<Task>,
    @InjectRepository(TaskRun) private readonly runs: Repository<TaskRun>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {
    this.writes = new CachedWrites(cache, 'tasks');
    this.taskRows = new RowsById(tasks.manager, Task);
    this.runRows = new RowsById(runs.manager, TaskRun);
  }

  /** Newest first, with the server's name. */
  list(): Promise<TaskRow[]> {
    return this.cache.get('tasks:list', ['tasks', 'servers'], async () => {
      const rows = await this.withServerName().orderBy('task.created_at', 'DESC').addOrderBy('task.id', 'DESC').getRawAndEntities();
      return rows.entities.map((task, index) => toRow(task, rows.raw[index] as JoinedNames));
    });
  }

  async findRow(id: number): Promise<TaskRow | null> {
    const rows = await this.withServerName().where('task.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0] as JoinedNames) : null;
  }

  findById(id: number): Promise<Task | null> {
    return this.tasks.findOneBy({ id });
  }

  /** What a run of the task needs of it, read as one plain statement. */
  findRunnable(id: number): Promise<RunnableTask | null> {
    return this.taskRows.find(id, RUNNABLE_COLUMNS);
  }

  /** Tasks that run on the server. */
  usingServer(serverId: number): Promise<Pick<Task, 'id' | 'name'>[]> {
    return this.tasks.find({ select: { id: true, name: true }, where: { server_id: serverId }, order: { id: 'ASC' } });
  }

  create(fields: TaskFields): Promise<Task> {
    return this.writes.run(() => this.tasks.save(this.tasks.create(fields), SINGLE_ROW));
  }

  async update(id: number, fields: TaskFields): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.tasks.update({ id }, fields));
  }

  /** Deletes the task with its run history. */
  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.tasks.delete({ id }));
  }

  /**
   * Records a run as started: the run `running` and its task `executing`, two statements that commit on their own
   * (a crash between them leaves a `running` run, which start-up marks failed with its task).
   */
  async startRun(start: Pick<TaskRun, 'task_id' | 'trigger' | 'started_at' | 'scheduled_for'>): Promise<TaskRun> {
    const [run] = await this.writes.run(() =>
      Promise.all([
        this.insertRun({ ...start, finished_at: null, status: 'running', exit_status: null, duration_ms: null, output: '', error: '' }),
        this.taskRows.update(start.task_id, { status: 'executing' }),
      ]),
    );
    return run;
  }

  /** A slot that was not run because the previous run of the task was still going. */
  async recordSkipped(taskId: number, scheduledFor: Date, reason: string): Promise<TaskRun> {
    const now = new Date();
    return this.insertRun({
      task_id: taskId,
      trigger: 'schedule',
      scheduled_for: scheduledFor,
      started_at: now,
      finished_at: now,
      status: 'skipped',
      exit_status: null,
      duration_ms: 0,
      output: '',
      error: reason,
    });
  }

  /** Inserts a run with every column given, and reads back only its id (TypeORM's save re-reads defaulted columns on SQLite). */
  private async insertRun(fields: Omit<TaskRun, 'id' | 'task'>): Promise<TaskRun> {
    const id = await this.runRows.insertOne(fields);
    return this.runs.create({ ...fields, id });
  }

  /** Records a finished run and mirrors it on the task, in one transaction. */
  async finishRun(run: TaskRun, task: Pick<Task, 'status' | 'last_run' | 'result'>): Promise<void> {
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        const { finished_at, duration_ms, status, exit_status, output, error } = run;
        await this.runRows.update(run.id, { finished_at, duration_ms, status, exit_status, output, error }, manager);
        await this.taskRows.update(run.task_id, task, manager);
      }),
    );
  }

  /** Enabled tasks whose next slot has come, oldest slot first; not the last result, which may be long. */
  findDue(now: Date, limit: number): Promise<DueTask[]> {
    return this.tasks
      .createQueryBuilder('task')
      .select(DUE_COLUMNS.map((column) => `task.${column}`))
      .where('task.enabled = :enabled', { enabled: true })
      .andWhere('task.next_run <= :now', { now })
      .orderBy('task.next_run', 'ASC')
      .addOrderBy('task.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * Takes slots for this instance by moving each task's `next_run` on, only where nobody else has: with several
   * instances on one database, exactly one of them gets each slot. Returns the ids of the tasks claimed. Claims that
   * share a slot and a next one (tasks due together usually do) take one transaction together.
   */
  async claimSlots(claims: SlotClaim[]): Promise<Set<number>> {
    const groups = new Map<string, SlotClaim[]>();
    for (const claim of claims) {
      const key = `${claim.due.getTime()}/${claim.next?.getTime() ?? ''}`;
      const group = groups.get(key);
      if (group) group.push(claim);
      else groups.set(key, [claim]);
    }
    const claimed = new Set<number>();
    for (const group of groups.values()) {
      for (let start = 0; start < group.length; start += CLAIMS_PER_TRANSACTION) {
        const { due, next } = group[start];
        const ids = group.slice(start, start + CLAIMS_PER_TRANSACTION).map((claim) => claim.id);
        for (const id of await this.claimGroup(ids, due, next)) claimed.add(id);
      }
    }
    return claimed;
  }

  /** Moves the tasks' `next_run` from `due` to `next` where it still is `due`; returns the ids it moved. */
  private claimGroup(ids: number[], due: Date, next: Date | null): Promise<number[]> {
    return this.writes.run(() =>
      this.transactions.run(async (manager) => {
        const query = manager
          .createQueryBuilder(Task, 'task')
          .select('task.id', 'id')
          .where('task.id IN (:...ids)', { ids })
          .andWhere('task.next_run = :due', { due });
        // PostgreSQL: rows another instance is claiming at this moment are its own. SQLite has one writer at a time,
        // and a transaction that read before another's write fails (SQLITE_BUSY_SNAPSHOT) rather than claim twice.
        if (manager.connection.options.type === 'postgres') query.setLock('pessimistic_write').setOnLocked('skip_locked');
        const free = (await query.getRawMany<{ id: number | string }>()).map((row) => Number(row.id));
        if (free.length > 0) await manager.update(Task, { id: In(free) }, { next_run: next });
        return free;
      }),
    );
  }

  /** The tasks among `taskIds` whose run is going on somewhere (in any instance); runs a crash left behind do not count. */
  async withRunningRun(taskIds: number[]): Promise<Set<number>> {
    const now = Date.now();
    const wanted = new Set(taskIds);
    return new Set((await this.runningRuns()).filter((run) => run.deadline >= now && wanted.has(run.task_id)).map((run) => run.task_id));
  }

  /**
   * Deletes every task's runs but its newest `keep`, by `started_at` then id, in one statement: run histories are
   * trimmed from time to time rather than at every run, which would cost each run a statement.
   */
  async trimHistories(keep: number): Promise<number> {
    const ranked = this.runs
      .createQueryBuilder('run')
      .select('run.id', 'id')
      .addSelect('ROW_NUMBER() OVER (PARTITION BY run.task_id ORDER BY run.started_at DESC, run.id DESC)', 'newer');
    const result = await this.runs
      .createQueryBuilder()
      .delete()
      .where(`id IN (SELECT "ranked"."id" FROM (${ranked.getQuery()}) "ranked" WHERE "ranked"."newer" > :keep)`, { keep })
      .execute();
    return result.affected ?? 0;
  }

  listRuns(taskId: number, limit: number): Promise<TaskRun[]> {
    return this.runs.find({ where: { task_id: taskId }, order: { started_at: 'DESC', id: 'DESC' }, take: limit });
  }

  /** Runs a crash left `running` are marked failed, and their tasks with them. */
  async failInterruptedRuns(reason: string, at: Date): Promise<number> {
    const stale = (await this.runningRuns()).filter((run) => run.deadline < at.getTime());
    if (stale.length === 0) return 0;
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        await manager.update(TaskRun, { id: In(stale.map((run) => run.id)) }, { status: 'failed', error: reason, finished_at: at });
        await manager.update(Task, { id: In(stale.map((run) => run.task_id)), status: 'executing' }, { status: 'failed' });
      }),
    );
    return stale.length;
  }

  /**
   * Runs marked `running`, each with its deadline: its task's timeout plus a grace
   * period. Whichever instance started a run ends it by then, so one still `running` past its deadline was
   * interrupted by a crash; younger ones may belong to a live instance sharing the database.
   */
  private async runningRuns(): Promise<{ id: number; task_id: number; deadline: number }[]> {
    const query = this.runs
      .createQueryBuilder('run')
      .innerJoin(Task, 'task', 'task.id = run.task_id')
      .select(['run.id AS id', 'run.task_id AS task_id', 'run.started_at AS started_at', 'task.timeout_seconds AS timeout_seconds'])
      .where('run.status = :status', { status: 'running' });
    const rows = await query.getRawMany<{ id: number; task_id: number; started_at: string | Date; timeout_seconds: number }>();
    return rows.map((run) => ({
      id: Number(run.id),
      task_id: Number(run.task_id),
      deadline: toDate(run.started_at).getTime() + (Number(run.timeout_seconds) + RUN_GRACE_SECONDS) * 1000,
    }));
  }

  /** A read-only view: the servers table is joined for the name lists show, never written or checked here. */
  private withServerName() {
    return this.tasks.createQueryBuilder('task').leftJoin('task.server', 'server').addSelect('server.name', 'server_name');
  }
}

/** The joined column of a list row. */
interface JoinedNames {
  server_name?: string | null;
}

function toRow(task: Task, raw: JoinedNames): TaskRow {
  // The relation is only there for the join; clients get the name.
  const { server: _server, ...columns } = task;
  return { ...columns, server_name: raw.server_name ?? null };
}
