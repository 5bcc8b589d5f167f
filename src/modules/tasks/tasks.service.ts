import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { DEFAULT_HISTORY_LIMIT } from '../../common/dto/history-query.dto';
import { RequestContext } from '../../common/request-context';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { CreateTaskDto, ExecuteTaskResponse, TaskResultResponse, UpdateTaskDto } from './dto/task.dto';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { cronExpressionError } from './schedule';
import { TaskRunner } from './task-runner.service';
import { TaskScheduler } from './task-scheduler.service';
import { TaskFields, TaskRow, TasksRepository } from './tasks.repository';
import { AuditService } from '../audit/audit.service';
import { ServersService } from '../servers/servers.service';

/** How often run histories are trimmed to TASK_RUNS_KEEP; in between, a task's run list shows that many at most. */
const HISTORY_TRIM_MS = 5 * 60 * 1000;

/** Fields whose change re-plans the next run. */
const SCHEDULE_FIELDS = ['schedule_type', 'cron_expression', 'timezone', 'run_at', 'enabled'] as const;

@Injectable()
export class TasksService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TasksService.name);
  private trimTimer?: NodeJS.Timeout;

  constructor(
    private readonly tasks: TasksRepository,
    private readonly servers: ServersService,
    private readonly runner: TaskRunner,
    private readonly scheduler: TaskScheduler,
    private readonly audit: AuditService,
    @Inject(tasksConfig.KEY) private readonly config: TasksConfig,
  ) {}

  /** A server that a task runs on cannot be deleted. */
  onModuleInit(): void {
    this.servers.addReferenceCheck('task', (serverId) => this.tasks.usingServer(serverId));
  }

  async onApplicationBootstrap(): Promise<void> {
    const count = await this.tasks.failInterruptedRuns('Interrupted: the backend stopped while the command ran', new Date());
    if (count > 0) this.logger.warn(`Marked ${count} interrupted task run(s) as failed`);
    await this.trimHistories();
    this.trimTimer = setInterval(() => void this.trimHistories(), HISTORY_TRIM_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.trimTimer);
  }

  /** Keeps TASK_RUNS_KEEP runs per task; a failure is logged and retried at the next turn. */
  private async trimHistories(): Promise<void> {
    try {
      await this.tasks.trimHistories(this.config.runsKept);
    } catch (error) {
      this.logger.error(`Could not trim task run histories: ${(error as Error).message}`);
    }
  }

  list(): Promise<TaskRow[]> {
    return this.tasks.list();
  }

  async get(id: number): Promise<TaskRow> {
    return found(id, await this.tasks.findRow(id));
  }

  async create(dto: CreateTaskDto): Promise<Task> {
    await this.requireServer(dto.server_id);
    const schedule = {
      schedule_type: dto.schedule_type,
      cron_expression: dto.schedule_type === 'cron' ? checkedCron(dto.cron_expression) : null,
      timezone: dto.timezone || null,
      run_at: dto.schedule_type === 'once' ? (dto.run_at ?? null) : null,
      enabled: dto.enabled ?? true,
    };
    const now = new Date();
    const task = await this.tasks.create({
      name: dto.name,
      command: dto.command,
      command_set_by: RequestContext.callerName(),
      server_id: dto.server_id,
      ...schedule,
      timeout_seconds: dto.timeout_seconds ?? this.config.timeoutSeconds,
      next_run: this.scheduler.nextRun({ ...schedule, created_at: now }, now),
    });
    // A scheduled task is a command run later on the creator's behalf.
    await this.audit.record({
      action: 'task.create',
      target: `task:${task.id}`,
      detail: { command: task.command, server_id: task.server_id, schedule_type: task.schedule_type },
    });
    this.scheduler.wakeFor(task.next_run);
    return task;
  }

  async update(id: number, dto: UpdateTaskDto): Promise<void> {
    const task = await this.requireTask(id);
    if (dto.server_id !== undefined) await this.requireServer(dto.server_id);
    const fields: TaskFields = definedOnly({
      name: dto.name,
      command: dto.command,
      server_id: dto.server_id,
      schedule_type: dto.schedule_type,
      cron_expression: dto.cron_expression,
      timezone: dto.timezone === '' ? null : dto.timezone,
      run_at: dto.run_at,
      enabled: dto.enabled,
      timeout_seconds: dto.timeout_seconds,
    });
    const changed = (Object.keys(fields) as (keyof TaskFields)[]).filter((field) => !sameValue(fields[field], task[field]));
    // The scheduler runs the command on behalf of whoever set it last.
    if (changed.includes('command')) fields.command_set_by = RequestContext.callerName();
    // Sending the task back as it was (the admin UI's `{...task}`) must not re-plan it: a once task would run again.
    if (SCHEDULE_FIELDS.some((field) => changed.includes(field))) {
      const planned = { ...task, ...fields };
      planned.cron_expression = planned.schedule_type === 'cron' ? checkedCron(planned.cron_expression) : null;
      if (planned.schedule_type !== 'once') planned.run_at = null;
      Object.assign(fields, {
        cron_expression: planned.cron_expression,
        run_at: planned.run_at,
        next_run: this.scheduler.nextRun(planned, new Date()),
      });
    }
    await this.tasks.update(id, fields);
    await this.audit.record({
      action: 'task.update',
      target: `task:${id}`,
      detail: {
        changed,
        command: fields.command ?? task.command,
        ...(changed.includes('command') && { previous_command: task.command }),
        server_id: fields.server_id ?? task.server_id,
      },
    });
    if (fields.next_run !== undefined) this.scheduler.wakeFor(fields.next_run);
  }

  async delete(id: number): Promise<void> {
    const task = await this.requireTask(id);
    if (this.runner.isRunning(id)) throw new ConflictException(`Task ${id} is running; delete it when the run has finished`);
    await this.tasks.delete(id);
    await this.audit.record({ action: 'task.delete', target: `task:${id}`, detail: { name: task.name } });
  }

  /** Runs the task's command now and waits for it; the run is recorded whatever its outcome. */
  async execute(id: number): Promise<ExecuteTaskResponse> {
    const task = found(id, await this.tasks.findRunnable(id));
    await this.audit.record({
      action: 'task.execute',
      target: `task:${id}`,
      detail: { command: task.command, server_id: task.server_id, command_set_by: task.command_set_by },
    });
    const { run, result } = await this.runner.runNow(task);
    return { output: result.output, error: result.error, success: result.success, exit_status: result.exit_status, run_id: run.id };
  }

  async result(id: number): Promise<TaskResultResponse> {
    const task = await this.requireTask(id);
    if (!task.last_run || !task.result) return { last_run: null, message: 'No result available yet' };
    const { output, error, success } = task.result;
    return { last_run: task.last_run, output, error, success };
  }

  async runs(id: number, limit = DEFAULT_HISTORY_LIMIT): Promise<TaskRun[]> {
    await this.requireTask(id);
    return this.tasks.listRuns(id, Math.min(limit, this.config.runsKept));
  }

  private async requireTask(id: number): Promise<Task> {
    return found(id, await this.tasks.findById(id));
  }

  private async requireServer(serverId: number): Promise<void> {
    if (!(await this.servers.exists(serverId))) throw new BadRequestException(`server_id ${serverId} does not exist`);
  }
}

/** The username of the current request's caller; null outside a request. */
function sameValue(a: unknown, b: unknown): boolean {
  return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
}

/** A cron task's expression, trimmed; a missing or invalid one is a 400 that says what is wrong. */
function checkedCron(expression: string | null | undefined): string {
  if (!expression?.trim()) throw new BadRequestException('cron_expression is required when schedule_type is "cron"');
  const error = cronExpressionError(expression);
  if (error) throw new BadRequestException(error);
  return expression.trim();
}

/** The task read as task `id`, or a 404 when there is none. */
function found<T>(id: number, task: T | null): T {
  if (!task) throw new NotFoundException(`Task ${id} not found`);
  return task;
}
