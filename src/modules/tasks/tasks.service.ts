import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { ExecResult, SshExecutor } from '../../ssh/ssh-executor.service';
import { ServersService } from '../servers/servers.service';
import { CreateTaskDto, ExecuteTaskResponse, TaskResultResponse, UpdateTaskDto } from './dto/task.dto';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { TaskRow, TasksRepository } from './tasks.repository';

const DEFAULT_RUNS_LIMIT = 20;

@Injectable()
export class TasksService implements OnApplicationBootstrap {
  private readonly logger = new Logger(TasksService.name);
  /** Tasks with a run in flight in this process: a second execute is refused rather than interleaved. */
  private readonly running = new Set<number>();

  constructor(
    private readonly tasks: TasksRepository,
    private readonly servers: ServersService,
    private readonly executor: SshExecutor,
    @Inject(tasksConfig.KEY) private readonly config: TasksConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const count = await this.tasks.failInterruptedRuns('Interrupted: the backend stopped while the command ran', new Date());
    if (count > 0) this.logger.warn(`Marked ${count} interrupted task run(s) as failed`);
  }

  list(): Promise<TaskRow[]> {
    return this.tasks.list();
  }

  async get(id: number): Promise<TaskRow> {
    const task = await this.tasks.findRow(id);
    if (!task) throw new NotFoundException(`Task ${id} not found`);
    return task;
  }

  async create(dto: CreateTaskDto): Promise<Task> {
    await this.requireServer(dto.server_id);
    return this.tasks.create({ name: dto.name, command: dto.command, server_id: dto.server_id, schedule_type: dto.schedule_type });
  }

  async update(id: number, dto: UpdateTaskDto): Promise<void> {
    await this.requireTask(id);
    if (dto.server_id !== undefined) await this.requireServer(dto.server_id);
    await this.tasks.update(
      id,
      definedOnly({ name: dto.name, command: dto.command, server_id: dto.server_id, schedule_type: dto.schedule_type }),
    );
  }

  async delete(id: number): Promise<void> {
    await this.requireTask(id);
    if (this.running.has(id)) throw new ConflictException(`Task ${id} is running; delete it when the run has finished`);
    await this.tasks.delete(id);
  }

  /** Runs the task's command now and waits for it; the run is recorded whatever its outcome. */
  async execute(id: number): Promise<ExecuteTaskResponse> {
    const task = await this.requireTask(id);
    if (this.running.has(id)) throw new ConflictException(`Task ${id} is already running`);
    this.running.add(id);
    try {
      const target = await this.servers.sshTarget(task.server_id);
      const startedAt = new Date();
      const run = await this.tasks.startRun(id, 'manual', startedAt);
      await this.tasks.update(id, { status: 'executing' });
      const result = await this.executor.exec(target, task.command, { timeoutMs: this.config.timeoutSeconds * 1000 });
      await this.record(run, result);
      return { output: result.output, error: result.error, success: result.success, exit_status: result.exit_status, run_id: run.id };
    } finally {
      this.running.delete(id);
    }
  }

  async result(id: number): Promise<TaskResultResponse> {
    const task = await this.requireTask(id);
    if (!task.last_run || !task.result) return { last_run: null, message: 'No result available yet' };
    const { output, error, success } = task.result;
    return { last_run: task.last_run, output, error, success };
  }

  async runs(id: number, limit = DEFAULT_RUNS_LIMIT): Promise<TaskRun[]> {
    await this.requireTask(id);
    return this.tasks.listRuns(id, limit);
  }

  private async record(run: TaskRun, result: ExecResult): Promise<void> {
    const finishedAt = new Date();
    run.finished_at = finishedAt;
    run.status = result.timed_out ? 'timed_out' : result.success ? 'completed' : 'failed';
    run.exit_status = result.exit_status;
    run.output = result.output;
    run.error = result.error;
    await this.tasks.finishRun(run, {
      status: result.success ? 'completed' : 'failed',
      last_run: finishedAt,
      result: {
        output: result.output,
        error: result.error,
        success: result.success,
        exit_status: result.exit_status,
        truncated: result.truncated,
      },
    });
  }

  private async requireTask(id: number): Promise<Task> {
    const task = await this.tasks.findById(id);
    if (!task) throw new NotFoundException(`Task ${id} not found`);
    return task;
  }

  private async requireServer(serverId: number): Promise<void> {
    if (!(await this.tasks.serverExists(serverId))) throw new BadRequestException(`server_id ${serverId} does not exist`);
  }
}
