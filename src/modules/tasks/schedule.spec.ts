import { isTimeZone } from '../../common/time-zone';
import { cronExpressionError, nextSlot, Schedule } from './schedule';

const at = (iso: string) => new Date(iso);
const schedule = (fields: Partial<Schedule>): Schedule => ({
  schedule_type: 'daily',
  timezone: 'UTC',
  created_at: at('2026-01-07T10:00:00Z'),
  ...fields,
});

describe('nextSlot', () => {
  it('runs daily tasks at local midnight, also across the spring-forward DST change', () => {
    const newYork = schedule({ timezone: 'America/New_York' });
    // 2026-03-08 is the day New York moves from EST (-5) to EDT (-4).
    const first = nextSlot(newYork, at('2026-03-07T06:00:00Z'))!;
    expect(first.toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(nextSlot(newYork, first)!.toISOString()).toBe('2026-03-09T04:00:00.000Z');
  });

  it('keeps local midnight across the autumn DST change', () => {
    const berlin = schedule({ timezone: 'Europe/Berlin' });
    // 2026-10-25: Berlin goes from CEST (+2) to CET (+1).
    expect(nextSlot(berlin, at('2026-10-24T12:00:00Z'))!.toISOString()).toBe('2026-10-24T22:00:00.000Z');
    expect(nextSlot(berlin, at('2026-10-25T12:00:00Z'))!.toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it('runs weekly tasks at midnight on the weekday they were created, seen in their time zone', () => {
    // Wednesday 2026-01-07 23:30 UTC is already Thursday in Shanghai.
    const weekly = schedule({ schedule_type: 'weekly', timezone: 'Asia/Shanghai', created_at: at('2026-01-07T23:30:00Z') });
    const first = nextSlot(weekly, at('2026-01-08T00:00:00Z'))!;
    expect(first.toISOString()).toBe('2026-01-14T16:00:00.000Z'); // Thursday 2026-01-15 00:00 in Shanghai
    expect(nextSlot(weekly, first)!.getTime() - first.getTime()).toBe(7 * 24 * 3600 * 1000);
  });

  it('follows cron expressions with seconds and without', () => {
    const everyTwoSeconds = schedule({ schedule_type: 'cron', cron_expression: '*/2 * * * * *' });
    expect(nextSlot(everyTwoSeconds, at('2026-05-01T12:00:01.500Z'))!.toISOString()).toBe('2026-05-01T12:00:02.000Z');
    const weekdayMornings = schedule({ schedule_type: 'cron', cron_expression: '30 8 * * 1-5', timezone: 'Asia/Shanghai' });
    // Friday 2026-05-01 09:00 Shanghai → next is Monday 2026-05-04 08:30 Shanghai.
    expect(nextSlot(weekdayMornings, at('2026-05-01T01:00:00Z'))!.toISOString()).toBe('2026-05-04T00:30:00.000Z');
  });

  it('gives once tasks their run_at, or the present when none was given', () => {
    expect(nextSlot(schedule({ schedule_type: 'once', run_at: at('2026-06-01T00:00:00Z') }), at('2026-05-01T00:00:00Z'))).toEqual(
      at('2026-06-01T00:00:00Z'),
    );
    expect(nextSlot(schedule({ schedule_type: 'once' }), at('2026-05-01T00:00:00Z'))).toEqual(at('2026-05-01T00:00:00Z'));
  });
});

describe('validation helpers', () => {
  it.each([
    ['*/2 * * * * *', undefined],
    ['0 0 * * 1', undefined],
    ['* * *', /5 fields .* got 3/],
    ['61 * * * *', /not valid: .*61/],
    ['0 0 * * * * *', /got 7/],
  ])('cron %p', (expression, expected) => {
    const error = cronExpressionError(expression);
    if (expected === undefined) expect(error).toBeUndefined();
    else expect(error).toMatch(expected);
  });

  it('knows IANA time zones', () => {
    expect(isTimeZone('Asia/Shanghai')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
