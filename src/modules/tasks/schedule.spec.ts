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

  /** The next `count` slots from `from`, each as the local wall-clock time in `zone` and as UTC. */
  function slotsFrom(fields: Partial<Schedule>, from: string, count: number): string[] {
    const zone = fields.timezone ?? 'UTC';
    const local = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, dateStyle: 'short', timeStyle: 'short' });
    const slots: string[] = [];
    for (let slot = at(from); slots.length < count;) {
      slot = nextSlot(schedule(fields), slot)!;
      slots.push(`${local.format(slot)} = ${slot.toISOString()}`);
    }
    return slots;
  }

  describe('a daily time that does not exist on the spring-forward day runs once, an hour later', () => {
    it('in Berlin (02:00 → 03:00 on 2026-03-29)', () => {
      expect(slotsFrom({ schedule_type: 'cron', cron_expression: '30 2 * * *', timezone: 'Europe/Berlin' }, '2026-03-27T12:00:00Z', 3)).toEqual([
        '2026-03-28 02:30 = 2026-03-28T01:30:00.000Z',
        '2026-03-29 03:30 = 2026-03-29T01:30:00.000Z',
        '2026-03-30 02:30 = 2026-03-30T00:30:00.000Z',
      ]);
    });

    it('in New York (02:00 → 03:00 on 2026-03-08)', () => {
      expect(slotsFrom({ schedule_type: 'cron', cron_expression: '30 2 * * *', timezone: 'America/New_York' }, '2026-03-06T12:00:00Z', 3)).toEqual([
        '2026-03-07 02:30 = 2026-03-07T07:30:00.000Z',
        '2026-03-08 03:30 = 2026-03-08T07:30:00.000Z',
        '2026-03-09 02:30 = 2026-03-09T06:30:00.000Z',
      ]);
    });

    it('for daily tasks where midnight itself is skipped (Santiago, 00:00 → 01:00 on 2026-09-06)', () => {
      expect(slotsFrom({ timezone: 'America/Santiago' }, '2026-09-04T12:00:00Z', 3)).toEqual([
        '2026-09-05 00:00 = 2026-09-05T04:00:00.000Z',
        '2026-09-06 01:00 = 2026-09-06T04:00:00.000Z',
        '2026-09-07 00:00 = 2026-09-07T03:00:00.000Z',
      ]);
    });
  });

  describe('a daily time that happens twice on the fall-back day runs once, at its first occurrence', () => {
    it('in Berlin (03:00 → 02:00 on 2026-10-25)', () => {
      expect(slotsFrom({ schedule_type: 'cron', cron_expression: '30 2 * * *', timezone: 'Europe/Berlin' }, '2026-10-23T12:00:00Z', 3)).toEqual([
        '2026-10-24 02:30 = 2026-10-24T00:30:00.000Z',
        '2026-10-25 02:30 = 2026-10-25T00:30:00.000Z',
        '2026-10-26 02:30 = 2026-10-26T01:30:00.000Z',
      ]);
    });

    it('in New York (02:00 → 01:00 on 2026-11-01)', () => {
      expect(slotsFrom({ schedule_type: 'cron', cron_expression: '30 1 * * *', timezone: 'America/New_York' }, '2026-10-31T12:00:00Z', 3)).toEqual([
        '2026-11-01 01:30 = 2026-11-01T05:30:00.000Z',
        '2026-11-02 01:30 = 2026-11-02T06:30:00.000Z',
        '2026-11-03 01:30 = 2026-11-03T06:30:00.000Z',
      ]);
    });
  });

  it('runs an hourly cron every real hour through the fall-back overlap (01:00 comes twice)', () => {
    expect(slotsFrom({ schedule_type: 'cron', cron_expression: '0 * * * *', timezone: 'America/New_York' }, '2026-11-01T04:30:00Z', 3)).toEqual([
      '2026-11-01 01:00 = 2026-11-01T05:00:00.000Z',
      '2026-11-01 01:00 = 2026-11-01T06:00:00.000Z',
      '2026-11-01 02:00 = 2026-11-01T07:00:00.000Z',
    ]);
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
