import { ConflictException, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import pLimit from 'p-limit';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';
import { CrlfToLf } from '../../ssh/crlf-to-lf';
import { ExecResult, SshExecutor } from '../../ssh/ssh-executor.service';
import { AuditService } from '../audit/audit.service';
import { ServersService } from '../servers/servers.service';
import { TaskEventsGateway } from './task-events.gateway';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { TasksRepository } from './tasks.repository';

export interface RunOutcome {
  run: TaskRun;
  result: ExecResult;
}

/**
 * Runs tasks, by hand or on schedule: at most TASKS_MAX_PARALLEL at once (the rest queue), never two runs of
 * one task at a time, every run recorded in `task_runs` and mirrored on the task, output streamed live.
 */
@Injectable()
export class TaskRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskRunner.name);
  private readonly limit: ReturnType<typeof pLimit>;
  /** Tasks with a run queued or in flight in this process. */
  private readonly running = new Set<number>();
  private readonly scheduled = new Set<Promise<void>>();

  constructor(
    private readonly tasks: TasksRepository,
    private readonly servers: ServersService,
    private readonly executor: SshExecutor,
    private readonly events: TaskEventsGateway,
    private readonly audit: AuditService,
    private readonly metrics: BackendMetrics,
    @Inject(tasksConfig.KEY) private readonly config: TasksConfig,
  ) {
    this.limit = pLimit(config.maxParallel);
  }

  isRunning(taskId: number): boolean {
    return this.running.has(taskId);
  }

  /** Runs the task now and waits for it; 409 while a run of it is going. */
  async runNow(task: Task): Promise<RunOutcome> {
    if (this.running.has(task.id)) throw new ConflictException(`Task ${task.id} is already running`);
    return this.run(task, 'manual', null);
  }

  /** Runs the slot `slot` of the task in the background; a slot that finds the previous run still going is skipped. */
  runScheduled(task: Task, slot: Date): void {
    const work = this.runSlot(task, slot)
      .catch((error: unknown) => this.logger.error(`Scheduled run of task ${task.id} failed: ${String(error)}`))
      .finally(() => this.scheduled.delete(work));
    this.scheduled.add(work);
  }

  async onApplicationShutdown(): Promise<void> {
    this.limit.clearQueue();
    await Promise.allSettled([...this.scheduled]);
  }

  private async runSlot(task: Task, slot: Date): Promise<void> {
    if (this.running.has(task.id) || (await this.tasks.hasRunningRun(task.id))) {
      const skipped = await this.tasks.recordSkipped(task.id, slot, 'Skipped: the previous run of this task was still going');
      this.events.finished(task.id, skipped.id, 'skipped');
      this.metrics.taskRunFinished('skipped');
      return;
    }
    // Nobody asked for this run: it is traced to whoever last set the command.
    await this.audit.record({
      action: 'task.run',
      target: `task:${task.id}`,
      actor: { username: null, ip: null },
      detail: { command: task.command, server_id: task.server_id, scheduled_for: slot.toISOString(), command_set_by: task.command_set_by },
    });
    await this.run(task, 'schedule', slot);
  }

  private async run(task: Task, trigger: 'manual' | 'schedule', slot: Date | null): Promise<RunOutcome> {
    this.running.add(task.id);
    try {
      return await this.limit(async () => {
        const target = await this.servers.sshTarget(task.server_id);
        const startedAt = new Date();
        const run = await this.tasks.startRun(task.id, trigger, startedAt, slot);
        await this.tasks.update(task.id, { status: 'executing' });
        // Live output gets the stored output's line endings, so what a subscriber joins equals the run's result.
        const liveOutput = new CrlfToLf();
        const stream = (data: string) => {
          if (data) this.events.output(task.id, run.id, data);
        };
        const result = await this.executor.exec(target, task.command, {
          timeoutMs: task.timeout_seconds * 1000,
          onOutput: (data) => stream(liveOutput.write(data)),
        });
        stream(liveOutput.end());
        await this.record(run, result, startedAt);
        this.events.finished(task.id, run.id, run.status);
        this.metrics.taskRunFinished(run.status);
        return { run, result };
      });
    } finally {
      this.running.delete(task.id);
    }
  }

  private async record(run: TaskRun, result: ExecResult, startedAt: Date): Promise<void> {
    const finishedAt = new Date();
    run.finished_at = finishedAt;
    run.duration_ms = finishedAt.getTime() - startedAt.getTime();
    run.status = result.timed_out ? 'timed_out' : result.success ? 'completed' : 'failed';
    run.exit_status = result.exit_status;
    run.output = result.output;
    run.error = result.error;
    await this.tasks.finishRun(
      run,
      {
        status: result.success ? 'completed' : 'failed',
        last_run: finishedAt,
        result: {
          output: result.output,
          error: result.error,
          success: result.success,
          exit_status: result.exit_status,
          truncated: result.truncated,
        },
      },
      this.config.runsKept,
    );
  }
}
