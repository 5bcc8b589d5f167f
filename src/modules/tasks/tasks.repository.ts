import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { keepNewest } from '../../database/history';
import { Transactions } from '../../database/transactions.service';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { SINGLE_ROW } from '../../database/save-options';

export interface TaskRow extends Omit<Task, 'server'> {
  server_name: string | null;
}

/** Slack beyond a run's timeout before a `running` row is taken for one a crash left behind. */
const RUN_GRACE_SECONDS = 60;

/** SQLite hands raw datetimes back as UTC text without a zone. */
function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`);
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

  constructor(
    @InjectRepository(Task) private readonly tasks: Repository<Task>,
    @InjectRepository(TaskRun) private readonly runs: Repository<TaskRun>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {
    this.writes = new CachedWrites(cache, 'tasks');
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

  startRun(taskId: number, trigger: string, startedAt: Date, scheduledFor: Date | null): Promise<TaskRun> {
    return this.runs.save(
      this.runs.create({ task_id: taskId, trigger, scheduled_for: scheduledFor, started_at: startedAt, status: 'running' }),
      SINGLE_ROW,
    );
  }

  /** A slot that was not run because the previous run of the task was still going. */
  async recordSkipped(taskId: number, scheduledFor: Date, reason: string): Promise<TaskRun> {
    const now = new Date();
    return this.runs.save(
      this.runs.create({
        task_id: taskId,
        trigger: 'schedule',
        scheduled_for: scheduledFor,
        started_at: now,
        finished_at: now,
        duration_ms: 0,
        status: 'skipped',
        error: reason,
      }),
      SINGLE_ROW,
    );
  }

  /** Records a finished run and mirrors it on the task, in one transaction; then keeps only the newest `keep` runs. */
  async finishRun(run: TaskRun, task: Pick<Task, 'status' | 'last_run' | 'result'>, keep: number): Promise<void> {
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        await manager.update(
          TaskRun,
          { id: run.id },
          {
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
            status: run.status,
            exit_status: run.exit_status,
            output: run.output,
            error: run.error,
          },
        );
        await manager.update(Task, { id: run.task_id }, task);
        await keepNewest(manager, TaskRun, 'task_id', run.task_id, keep);
      }),
    );
  }

  /** Enabled tasks whose next slot has come, oldest slot first. */
  findDue(now: Date, limit: number): Promise<Task[]> {
    return this.tasks
      .createQueryBuilder('task')
      .where('task.enabled = :enabled', { enabled: true })
      .andWhere('task.next_run <= :now', { now })
      .orderBy('task.next_run', 'ASC')
      .addOrderBy('task.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * Takes the slot `due` of a task for this instance by moving `next_run` on, only if nobody else has:
   * with several instances on one database, exactly one of them gets each slot.
   */
  claimSlot(id: number, due: Date, next: Date | null): Promise<boolean> {
    return this.writes.runIfChanged(() => this.tasks.update({ id, next_run: due }, { next_run: next }));
  }

  /** Whether a run of the task is going on somewhere (in any instance); runs left behind by a crash do not count. */
  async hasRunningRun(taskId: number): Promise<boolean> {
    const now = Date.now();
    return (await this.runningRuns(taskId)).some((run) => run.deadline >= now);
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
   * Runs marked `running` (of one task, or all), each with its deadline: its task's timeout plus a grace
   * period. Whichever instance started a run ends it by then, so one still `running` past its deadline was
   * interrupted by a crash; younger ones may belong to a live instance sharing the database.
   */
  private async runningRuns(taskId?: number): Promise<{ id: number; task_id: number; deadline: number }[]> {
    const query = this.runs
      .createQueryBuilder('run')
      .innerJoin(Task, 'task', 'task.id = run.task_id')
      .select(['run.id AS id', 'run.task_id AS task_id', 'run.started_at AS started_at', 'task.timeout_seconds AS timeout_seconds'])
      .where('run.status = :status', { status: 'running' });
    if (taskId !== undefined) query.andWhere('run.task_id = :taskId', { taskId });
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
