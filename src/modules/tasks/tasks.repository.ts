import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Transactions } from '../../database/transactions.service';
import { Server } from '../servers/server.entity';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { SINGLE_ROW } from '../../database/save-options';

export interface TaskRow extends Omit<Task, 'server'> {
  server_name: string | null;
}

export type TaskFields = Partial<Pick<Task, 'name' | 'command' | 'server_id' | 'schedule_type'>>;

@Injectable()
export class TasksRepository {
  constructor(
    @InjectRepository(Task) private readonly tasks: Repository<Task>,
    @InjectRepository(TaskRun) private readonly runs: Repository<TaskRun>,
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {}

  /** Newest first, with the server's name. */
  list(): Promise<TaskRow[]> {
    return this.cache.get('tasks:list', ['tasks', 'servers'], async () => {
      const rows = await this.withServerName().orderBy('task.created_at', 'DESC').addOrderBy('task.id', 'DESC').getRawAndEntities();
      return rows.entities.map((task, index) => toRow(task, rows.raw[index]));
    });
  }

  async findRow(id: number): Promise<TaskRow | null> {
    const rows = await this.withServerName().where('task.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0]) : null;
  }

  findById(id: number): Promise<Task | null> {
    return this.tasks.findOneBy({ id });
  }

  serverExists(id: number): Promise<boolean> {
    return this.servers.existsBy({ id });
  }

  async create(fields: Required<TaskFields>): Promise<Task> {
    const task = await this.tasks.save(this.tasks.create(fields), SINGLE_ROW);
    this.cache.invalidate('tasks');
    return task;
  }

  async update(id: number, fields: TaskFields | Partial<Pick<Task, 'status' | 'last_run' | 'result'>>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.tasks.update({ id }, fields);
    this.cache.invalidate('tasks');
  }

  /** Deletes the task with its run history. */
  async delete(id: number): Promise<void> {
    await this.tasks.delete({ id });
    this.cache.invalidate('tasks');
  }

  startRun(taskId: number, trigger: string, startedAt: Date): Promise<TaskRun> {
    return this.runs.save(this.runs.create({ task_id: taskId, trigger, started_at: startedAt, status: 'running' }), SINGLE_ROW);
  }

  /** Records a finished run and mirrors it on the task, in one transaction. */
  async finishRun(run: TaskRun, task: Pick<Task, 'status' | 'last_run' | 'result'>): Promise<void> {
    await this.transactions.run(async (manager) => {
      await manager.update(
        TaskRun,
        { id: run.id },
        { finished_at: run.finished_at, status: run.status, exit_status: run.exit_status, output: run.output, error: run.error },
      );
      await manager.update(Task, { id: run.task_id }, task);
    });
    this.cache.invalidate('tasks');
  }

  listRuns(taskId: number, limit: number): Promise<TaskRun[]> {
    return this.runs.find({ where: { task_id: taskId }, order: { started_at: 'DESC', id: 'DESC' }, take: limit });
  }

  /** Runs a crash left `running` are marked failed, and their tasks with them. */
  async failInterruptedRuns(reason: string, at: Date): Promise<number> {
    const interrupted = await this.runs.find({ select: { id: true, task_id: true }, where: { status: 'running' } });
    if (interrupted.length === 0) return 0;
    await this.transactions.run(async (manager) => {
      await manager.update(TaskRun, { status: 'running' }, { status: 'failed', error: reason, finished_at: at });
      await manager.update(Task, { status: 'executing' }, { status: 'failed' });
    });
    this.cache.invalidate('tasks');
    return interrupted.length;
  }

  private withServerName() {
    return this.tasks.createQueryBuilder('task').leftJoin('task.server', 'server').addSelect('server.name', 'server_name');
  }
}

function toRow(task: Task, raw: { server_name?: string | null }): TaskRow {
  // The relation is only there for the join; clients get the name.
  const { server: _server, ...columns } = task;
  return { ...columns, server_name: raw.server_name ?? null };
}
