import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { FleetMetrics } from './fleet-metrics';
import { LatestServerSample, ServerMetricsSource } from './server-metrics-source';

const GIB = 1024 * 1024 * 1024;

const FLEET: LatestServerSample[] = [
  {
    server_id: 7,
    server_name: 'gpu-a',
    taken_at: new Date(Date.now() - 20_000),
    online: true,
    cpu_usage: 12.5,
    memory_usage: 40,
    disk_usage: 71,
    cards: [
      {
        index: 0,
        vendor: 'nvidia',
        name: 'NVIDIA A100-SXM4-80GB',
        utilization: 93,
        memory_used: 1024,
        memory_total: 81920,
        temperature: 61,
        power_draw: 312.5,
      },
      {
        index: 1,
        vendor: 'huawei',
        name: 'Ascend 910B',
        utilization: null,
        memory_used: null,
        memory_total: 65536,
        temperature: null,
        power_draw: null,
      },
    ],
  },
  { server_id: 8, server_name: 'gpu-b', taken_at: new Date(), online: false, cpu_usage: null, memory_usage: null, disk_usage: null, cards: [] },
];

/** A source whose answer each test sets. */
class SettableSource extends ServerMetricsSource {
  answer: () => Promise<LatestServerSample[]> = () => Promise.resolve(FLEET);
  latest(): Promise<LatestServerSample[]> {
    return this.answer();
  }
}

describe('FleetMetrics', () => {
  let registry: Registry;
  let source: SettableSource;
  let fleet: FleetMetrics;

  beforeEach(() => {
    registry = new Registry();
    source = new SettableSource();
    fleet = new FleetMetrics(registry, source);
  });

  /** Every exported sample of a family, as `labels → value`. */
  const valuesOf = async (name: string): Promise<Record<string, number>> => {
    const metric = (await registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
    return Object.fromEntries((metric?.values ?? []).map(({ labels, value }) => [Object.values(labels).join(' '), value]));
  };

  it("exports each server's latest sample, leaving out what it could not measure", async () => {
    await fleet.refresh();
    expect(await valuesOf('infinistudio_server_up')).toEqual({ '7 gpu-a': 1, '8 gpu-b': 0 });
    expect(await valuesOf('infinistudio_server_cpu_usage_percent')).toEqual({ '7 gpu-a': 12.5 });
    expect(await valuesOf('infinistudio_server_memory_usage_percent')).toEqual({ '7 gpu-a': 40 });
    expect(await valuesOf('infinistudio_server_disk_usage_percent')).toEqual({ '7 gpu-a': 71 });
    const age = await valuesOf('infinistudio_server_sample_age_seconds');
    expect(age['7 gpu-a']).toBeGreaterThanOrEqual(20);
    expect(age['7 gpu-a']).toBeLessThan(30);
  });

  it('exports each card with its vendor, index and name, memory in bytes, and nothing for what the card cannot report', async () => {
    await fleet.refresh();
    const a100 = '7 gpu-a nvidia 0 NVIDIA A100-SXM4-80GB';
    const ascend = '7 gpu-a huawei 1 Ascend 910B';
    expect(await valuesOf('infinistudio_accelerator_utilization_percent')).toEqual({ [a100]: 93 });
    expect(await valuesOf('infinistudio_accelerator_memory_used_bytes')).toEqual({ [a100]: 1 * GIB });
    expect(await valuesOf('infinistudio_accelerator_memory_total_bytes')).toEqual({ [a100]: 80 * GIB, [ascend]: 64 * GIB });
    expect(await valuesOf('infinistudio_accelerator_temperature_celsius')).toEqual({ [a100]: 61 });
    expect(await valuesOf('infinistudio_accelerator_power_watts')).toEqual({ [a100]: 312.5 });
  });

  it('drops servers and cards that left the samples', async () => {
    await fleet.refresh();
    source.answer = () => Promise.resolve(FLEET.slice(1));
    await fleet.refresh();
    expect(await valuesOf('infinistudio_server_up')).toEqual({ '8 gpu-b': 0 });
    expect(await valuesOf('infinistudio_accelerator_memory_total_bytes')).toEqual({});
  });

  it('leaves the fleet out, rather than failing the scrape or repeating stale values, while the samples cannot be read', async () => {
    await fleet.refresh();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    source.answer = () => Promise.reject(new Error('database is locked'));
    await expect(fleet.refresh()).resolves.toBeUndefined();
    await fleet.refresh();
    expect(await valuesOf('infinistudio_server_up')).toEqual({});
    expect(await registry.metrics()).toContain('# TYPE infinistudio_server_up gauge');
    // Once per outage, not at every scrape.
    expect(warn.mock.calls).toEqual([[expect.stringContaining('database is locked')]]);

    source.answer = () => Promise.resolve(FLEET);
    await fleet.refresh();
    expect(await valuesOf('infinistudio_server_up')).toEqual({ '7 gpu-a': 1, '8 gpu-b': 0 });
    expect(log).toHaveBeenCalledTimes(1);
    jest.restoreAllMocks();
  });
});
