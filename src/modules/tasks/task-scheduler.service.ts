import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { nextSlot, Schedule } from './schedule';
import { TaskRunner } from './task-runner.service';
import { Task } from './task.entity';
import { SlotClaim, TasksRepository } from './tasks.repository';

const POLL = 'task-scheduler';
/** Due tasks taken per poll; the rest are taken on the next one. */
const BATCH = 1000;

/**
 * Starts due tasks. The database is the source of truth: each poll claims due slots with a conditional update
 * of `next_run`, so several instances on one database run every slot exactly once.
 */
@Injectable()
export class TaskScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TaskScheduler.name);
  private polling = false;

  constructor(
    private readonly tasks: TasksRepository,
    private readonly runner: TaskRunner,
    private readonly registry: SchedulerRegistry,
    @Inject(tasksConfig.KEY) private readonly config: TasksConfig,
  ) {}

  /** When the task runs next, seen from `after`; null when nothing is due (disabled, or a once task that ran). */
  nextRun(task: Pick<Task, 'schedule_type' | 'cron_expression' | 'timezone' | 'run_at' | 'created_at' | 'enabled'>, after: Date): Date | null {
    return task.enabled ? nextSlot(this.scheduleOf(task), after) : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.schedulerEnabled) return;
    if (this.config.misfire === 'skip') await this.skipMissedSlots(new Date());
    // With run_once, a slot missed while the backend was down is simply due: the first poll runs it once and
    // moves next_run past now, not through every missed slot.
    this.registry.addInterval(
      POLL,
      setInterval(() => void this.poll(), this.config.pollMs),
    );
  }

  onApplicationShutdown(): void {
    if (this.registry.doesExist('interval', POLL)) this.registry.deleteInterval(POLL);
  }

  /** Claims and starts every slot that has come. */
  async poll(now = new Date()): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const due = await this.tasks.findDue(now, BATCH);
      const claimed = await this.tasks.claimSlots(due.map((task) => this.claimOf(task, new Date(Math.max(now.getTime(), task.next_run!.getTime())))));
      await this.runner.runScheduled(due.filter((task) => claimed.has(task.id)).map((task) => ({ task, slot: task.next_run! })));
    } catch (error) {
      this.logger.error(`Scheduler poll failed: ${String(error)}`);
    } finally {
      this.polling = false;
    }
  }

  private async skipMissedSlots(now: Date): Promise<void> {
    // A slot that has only just come is due, not missed: another instance may be about to run it.
    const missedBefore = new Date(now.getTime() - this.config.pollMs - 1000);
    const missed = await this.tasks.findDue(missedBefore, Number.MAX_SAFE_INTEGER);
    const claimed = await this.tasks.claimSlots(missed.map((task) => this.claimOf(task, now)));
    for (const task of missed.filter(({ id }) => claimed.has(id))) {
      await this.tasks.recordSkipped(task.id, task.next_run!, 'Skipped: the backend was down at this time (SCHEDULER_MISFIRE=skip)');
    }
  }

  /** Takes the task's due slot and plans its next one after `after` (a once task has none). */
  private claimOf(task: Task, after: Date): SlotClaim {
    return { id: task.id, due: task.next_run!, next: task.schedule_type === 'once' ? null : nextSlot(this.scheduleOf(task), after) };
  }

  private scheduleOf(task: Pick<Task, 'schedule_type' | 'cron_expression' | 'timezone' | 'run_at' | 'created_at'>): Schedule {
    return {
      schedule_type: task.schedule_type,
      cron_expression: task.cron_expression,
      timezone: task.timezone ?? this.config.defaultTimezone,
      run_at: task.run_at,
      created_at: task.created_at,
    };
  }
}
