import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { nextSlot, Schedule } from './schedule';
import { TaskRunner } from './task-runner.service';
import { Task } from './task.entity';
import { DueTask, SlotClaim, TasksRepository } from './tasks.repository';

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
  /** Set while the scheduler runs: from start-up (when enabled) until shutdown. */
  private started = false;
  /** The poll armed for a slot that comes before the next regular poll, and that slot. */
  private wakeUp?: { slot: number; timer: NodeJS.Timeout };

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
    this.started = true;
  }

  onApplicationShutdown(): void {
    this.started = false;
    clearTimeout(this.wakeUp?.timer);
    if (this.registry.doesExist('interval', POLL)) this.registry.deleteInterval(POLL);
  }

  /**
   * Polls at `slot` when it comes before the regular polls would notice it, so that it starts on time rather than up to
   * SCHEDULER_POLL_MS late: each poll calls it for the first slot it sees coming within that time, and task writes for
   * the slot they plan (a slot already come polls at once). Later slots are left to the polls.
   */
  wakeFor(slot: Date | null): void {
    if (!this.started || !slot) return;
    const delay = slot.getTime() - Date.now();
    if (delay >= this.config.pollMs || (this.wakeUp && this.wakeUp.slot <= slot.getTime())) return;
    clearTimeout(this.wakeUp?.timer);
    const timer = setTimeout(
      () => {
        this.wakeUp = undefined;
        void this.poll();
      },
      Math.max(0, delay),
    ).unref();
    this.wakeUp = { slot: slot.getTime(), timer };
  }

  /** Claims and starts every slot that has come, and wakes for the first one coming before the next poll. */
  async poll(now = new Date()): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let coming: Date | null = null;
    try {
      const soon = await this.tasks.findDue(new Date(now.getTime() + this.config.pollMs), BATCH);
      const due = soon.filter((task) => task.next_run! <= now);
      const claims = due.map((task) => this.claimOf(task, new Date(Math.max(now.getTime(), task.next_run!.getTime()))));
      const claimed = await this.tasks.claimSlots(claims);
      // Soonest of the slots seen coming and those just planned.
      coming = earliest([soon.find((task) => task.next_run! > now)?.next_run, ...claims.filter(({ id }) => claimed.has(id)).map(({ next }) => next)]);
      await this.runner.runScheduled(due.filter((task) => claimed.has(task.id)).map((task) => ({ task, slot: task.next_run! })));
    } catch (error) {
      this.logger.error(`Scheduler poll failed: ${String(error)}`);
    } finally {
      this.polling = false;
    }
    this.wakeFor(coming);
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
  private claimOf(task: DueTask, after: Date): SlotClaim {
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

function earliest(dates: (Date | null | undefined)[]): Date | null {
  return dates.reduce<Date | null>((soonest, date) => (date && (!soonest || date < soonest) ? date : soonest), null);
}
