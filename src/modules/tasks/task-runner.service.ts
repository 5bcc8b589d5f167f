import { ConflictException, Inject, Injectable, Logger, OnApplicationShutdown, ServiceUnavailableException } from '@nestjs/common';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';
import { CrlfToLf } from '../../ssh/crlf-to-lf';
import { ExecResult, SshExecutor } from '../../ssh/ssh-executor.service';
import { AuditService } from '../audit/audit.service';
import { ServersService } from '../servers/servers.service';
import { TaskEventsGateway } from './task-events.gateway';
import { TaskRun } from './task-run.entity';
import { KeyedLimit } from './keyed-limit';
import { RunnableTask, TasksRepository } from './tasks.repository';

/** Scheduled slots whose audit events are written together before their runs are queued. */
const SLOTS_PER_STEP = 50;

/** A slot of a task that this instance has claimed. */
export interface ScheduledSlot {
  task: RunnableTask;
  slot: Date;
}

export interface RunOutcome {
  run: TaskRun;
  result: ExecResult;
}

/**
 * Runs tasks, by hand or on schedule: at most TASKS_MAX_PARALLEL_PER_SERVER at once on one server and
 * TASKS_MAX_PARALLEL in all (the rest queue), never two runs of one task at a time, every run recorded in
 * `task_runs` and mirrored on the task, output streamed live.
 */
@Injectable()
export class TaskRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskRunner.name);
  private readonly limit: KeyedLimit;
  /** Set at shutdown: runs still queued end without running. */
  private stopping = false;
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
    this.limit = new KeyedLimit(config.maxParallelPerServer, config.maxParallel);
  }

  isRunning(taskId: number): boolean {
    return this.running.has(taskId);
  }

  /** Runs the task now and waits for it; 409 while a run of it is going. */
  async runNow(task: RunnableTask): Promise<RunOutcome> {
    if (this.running.has(task.id)) throw new ConflictException(`Task ${task.id} is already running`);
    return this.run(task, 'manual', null);
  }

  /**
   * Runs claimed slots in the background; a slot that finds the previous run of its task still going is skipped.
   * Resolves once the runs are recorded in the audit log and queued, SLOTS_PER_STEP at a time: the first runs start
   * once their own events are written (a thousand events took 70 ms, a fifth of the time before the first run).
   */
  async runScheduled(slots: ScheduledSlot[]): Promise<void> {
    for (let start = 0; start < slots.length; start += SLOTS_PER_STEP) await this.startSlots(slots.slice(start, start + SLOTS_PER_STEP));
  }

  /** `runScheduled` for a few slots: one statement for their audit events. */
  private async startSlots(slots: ScheduledSlot[]): Promise<void> {
    const going = await this.tasks.withRunningRun(slots.map(({ task }) => task.id));
    const due: ScheduledSlot[] = [];
    for (const slot of slots) {
      if (this.running.has(slot.task.id) || going.has(slot.task.id)) await this.skip(slot);
      else due.push(slot);
    }
    // Nobody asked for these runs: each is traced to whoever last set the command.
    await this.audit.recordMany(
      due.map(({ task, slot }) => ({
        action: 'task.run',
        target: `task:${task.id}`,
        actor: { username: null, ip: null },
        detail: { command: task.command, server_id: task.server_id, scheduled_for: slot.toISOString(), command_set_by: task.command_set_by },
      })),
    );
    for (const { task, slot } of due) {
      const work = this.run(task, 'schedule', slot)
        .then(() => undefined)
        .catch((error: unknown) => {
          // Runs still queued at shutdown end unrun, which is no failure to report one by one.
          if (!this.stopping) this.logger.error(`Scheduled run of task ${task.id} failed: ${String(error)}`);
        })
        .finally(() => this.scheduled.delete(work));
      this.scheduled.add(work);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.scheduled]);
  }

  private async skip({ task, slot }: ScheduledSlot): Promise<void> {
    const skipped = await this.tasks.recordSkipped(task.id, slot, 'Skipped: the previous run of this task was still going');
    this.events.finished(task.id, skipped.id, 'skipped');
    this.metrics.taskRunFinished('skipped');
  }

  private async run(task: RunnableTask, trigger: 'manual' | 'schedule', slot: Date | null): Promise<RunOutcome> {
    this.running.add(task.id);
    try {
      return await this.limit.run(task.server_id, async () => {
        if (this.stopping) throw new ServiceUnavailableException('The backend is shutting down');
        const target = await this.servers.sshTarget(task.server_id);
        const startedAt = new Date();
        // The run's record is written once the command has started, while it runs: the audit event, already
        // committed, is the trace of a run whose record a crash lost. Written earlier, its statements held the event
        // loop during the round trips that open the channel (0.4 ms of a 7 ms run). A command that could not start
        // gets its record after.
        let started: Promise<TaskRun> | undefined;
        const startRecord = () => {
          if (started) return started;
          started = this.tasks.startRun({ task_id: task.id, trigger, started_at: startedAt, scheduled_for: slot });
          started.catch(() => undefined); // awaited below, once the command has ended
          return started;
        };
        // Live output gets the stored output's line endings, so what a subscriber joins equals the run's result;
        // it goes out in order once the run has its id.
        const liveOutput = new CrlfToLf();
        const stream = (data: string) => {
          if (data)
            void startRecord()
              .then((run) => this.events.output(task.id, run.id, data))
              .catch(() => undefined);
        };
        const result = await this.executor.exec(target, task.command, {
          timeoutMs: task.timeout_seconds * 1000,
          onStarted: () => void startRecord(),
          onOutput: (data) => stream(liveOutput.write(data)),
        });
        stream(liveOutput.end());
        const run = await startRecord();
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
}
