import { CronExpressionParser } from 'cron-parser';

export const SCHEDULE_TYPES = ['once', 'daily', 'weekly', 'cron'] as const;
export type ScheduleType = (typeof SCHEDULE_TYPES)[number];

/** What decides when a task runs. */
export interface Schedule {
  schedule_type: string;
  cron_expression?: string | null;
  timezone: string;
  run_at?: Date | null;
  /** Anchors `weekly`: it runs on the weekday the task was created. */
  created_at: Date;
}

/** Why `expression` is not a usable cron expression (5 fields, or 6 with seconds first), or undefined. */
export function cronExpressionError(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron_expression must have 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(expression.trim(), { strict: false });
    return undefined;
  } catch (error) {
    return `cron_expression is not valid: ${(error as Error).message}`;
  }
}

/** The weekday (0 = Sunday) of `date` as seen in `zone`. */
function weekdayIn(date: Date, zone: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short' }).format(date);
  return ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(name);
}

/** The recurring schedules as cron: midnight every day, or midnight on the creation weekday. */
function cronOf(schedule: Schedule): string | undefined {
  switch (schedule.schedule_type) {
    case 'daily':
      return '0 0 * * *';
    case 'weekly':
      return `0 0 * * ${weekdayIn(schedule.created_at, schedule.timezone)}`;
    case 'cron':
      return schedule.cron_expression ?? undefined;
    default:
      return undefined;
  }
}

/**
 * The first slot strictly after `after`, in the schedule's time zone (so midnight stays midnight across DST
 * changes). `once` has a single slot: `run_at`, or `after` itself when none was given (run right away).
 */
export function nextSlot(schedule: Schedule, after: Date): Date | null {
  if (schedule.schedule_type === 'once') return schedule.run_at ?? after;
  const expression = cronOf(schedule);
  if (!expression) return null;
  const slots = CronExpressionParser.parse(expression, { currentDate: after, tz: schedule.timezone });
  return slots.next().toDate();
}
