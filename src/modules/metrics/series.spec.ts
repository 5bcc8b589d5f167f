import { rollUp, toSeries } from './series';
import { CardSample, ServerSample } from './server-sample.entity';

const at = (iso: string) => new Date(iso);

function sample(iso: string, values: Partial<ServerSample> = {}): ServerSample {
  return {
    id: 0,
    server_id: 1,
    resolution: 'raw',
    taken_at: at(iso),
    online: 1,
    cpu_usage: null,
    memory_usage: null,
    disk_usage: null,
    cards: null,
    ...values,
  };
}

const card = (i: number, u: number | null, extra: Partial<CardSample> = {}): CardSample => ({
  i,
  v: 'huawei',
  n: '910B2C',
  u,
  mu: 1000,
  mt: 65536,
  t: 50,
  p: 90,
  ...extra,
});

describe('toSeries', () => {
  it('averages the samples of each step, with null for a step without samples', () => {
    const series = toSeries(
      [
        sample('2026-12-01T00:00:00Z', { cpu_usage: 10 }),
        sample('2026-12-01T00:00:30Z', { cpu_usage: 20, online: 0 }),
        sample('2026-12-01T00:02:00Z', { cpu_usage: 40 }),
      ],
      at('2026-12-01T00:00:00Z'),
      at('2026-12-01T00:03:00Z'),
      60,
    );
    expect(series.timestamps).toEqual([at('2026-12-01T00:00:00Z'), at('2026-12-01T00:01:00Z'), at('2026-12-01T00:02:00Z')]);
    expect(series.cpu_usage).toEqual([15, null, 40]);
    expect(series.online).toEqual([0.5, null, 1]);
    expect(series.memory_usage).toEqual([null, null, null]);
  });

  it('leaves out samples outside [from, to)', () => {
    const series = toSeries(
      [sample('2026-12-01T00:00:59.999Z', { cpu_usage: 1 }), sample('2026-12-01T00:01:00Z', { cpu_usage: 99 })],
      at('2026-12-01T00:00:30Z'),
      at('2026-12-01T00:01:00Z'),
      30,
    );
    expect(series.cpu_usage).toEqual([1]);
  });

  it('gives every card a series of its own, a card missing from a step null there; a failed reading counts for nothing', () => {
    const series = toSeries(
      [
        sample('2026-12-01T00:00:00Z', { cards: [card(0, 10), card(1, 50)] }),
        sample('2026-12-01T00:00:30Z', { cards: [card(0, 30), card(1, null)] }),
        sample('2026-12-01T00:01:00Z', { cards: [card(1, 70, { p: null })] }),
      ],
      at('2026-12-01T00:00:00Z'),
      at('2026-12-01T00:02:00Z'),
      60,
    );
    expect(series.cards).toEqual([
      {
        index: 0,
        vendor: 'huawei',
        name: '910B2C',
        utilization: [20, null],
        memory_used: [1000, null],
        memory_total: [65536, null],
        temperature: [50, null],
        power_draw: [90, null],
      },
      {
        index: 1,
        vendor: 'huawei',
        name: '910B2C',
        utilization: [50, 70],
        memory_used: [1000, 1000],
        memory_total: [65536, 65536],
        temperature: [50, 50],
        power_draw: [90, null],
      },
    ]);
  });

  it('knows a card by its vendor and index wherever a sample lists it', () => {
    const series = toSeries(
      [
        sample('2026-12-01T00:00:00Z', { cards: [card(0, 10), card(0, 80, { v: 'nvidia', n: 'A100' })] }),
        sample('2026-12-01T00:00:30Z', { cards: [card(0, 60, { v: 'nvidia', n: 'A100' }), card(0, 30)] }),
      ],
      at('2026-12-01T00:00:00Z'),
      at('2026-12-01T00:01:00Z'),
      60,
    );
    expect(series.cards.map(({ vendor, index, name, utilization }) => ({ vendor, index, name, utilization }))).toEqual([
      { vendor: 'huawei', index: 0, name: '910B2C', utilization: [20] },
      { vendor: 'nvidia', index: 0, name: 'A100', utilization: [70] },
    ]);
  });
});

describe('rollUp', () => {
  it('averages raw samples per server into epoch-aligned five-minute buckets', () => {
    const buckets = rollUp(
      [
        sample('2026-12-01T00:04:30Z', { cpu_usage: 10 }),
        sample('2026-12-01T00:05:00Z', { cpu_usage: 20, cards: [card(0, 10)] }),
        sample('2026-12-01T00:09:30Z', { cpu_usage: 40, online: 0, cards: [card(0, 30)] }),
        sample('2026-12-01T00:05:00Z', { server_id: 2, cpu_usage: 99 }),
      ],
      5 * 60_000,
    );
    expect(buckets).toEqual([
      { server_id: 1, taken_at: at('2026-12-01T00:00:00Z'), online: 1, cpu_usage: 10, memory_usage: null, disk_usage: null, cards: null },
      {
        server_id: 1,
        taken_at: at('2026-12-01T00:05:00Z'),
        online: 0.5,
        cpu_usage: 30,
        memory_usage: null,
        disk_usage: null,
        cards: [{ i: 0, v: 'huawei', n: '910B2C', u: 20, mu: 1000, mt: 65536, t: 50, p: 90 }],
      },
      { server_id: 2, taken_at: at('2026-12-01T00:05:00Z'), online: 1, cpu_usage: 99, memory_usage: null, disk_usage: null, cards: null },
    ]);
  });
});
