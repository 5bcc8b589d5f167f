import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResourceProbe } from './resource-probe';

const nvidiaSmi = readFileSync(join(__dirname, 'fixtures/nvidia-smi-8xA100.csv'), 'utf8');
const gpuLines = nvidiaSmi
  .trim()
  .split('\n')
  .map((line) => `GPU ${line}`);

describe('parseResourceProbe', () => {
  const base = [
    'CPU 1000 2000 1150 2400', // 400 jiffies elapsed, 150 idle → 62.5 % busy
    'MEM MemTotal: 16000000',
    'MEM MemAvailable: 4000000',
    'DISK 100000000 22000000 78000000',
  ];

  it('computes current CPU, used memory and root disk in percent with one decimal', () => {
    expect(parseResourceProbe(base.join('\n'))).toEqual({ cpu_usage: 62.5, memory_usage: 75, disk_usage: 22 });
  });

  it('reads every GPU of recorded nvidia-smi output, with unsupported values as null', () => {
    const metrics = parseResourceProbe([...base, ...gpuLines].join('\n'));
    expect(metrics.gpus).toHaveLength(8);
    expect(metrics.gpus![0]).toEqual({
      index: 0,
      name: 'NVIDIA A100-SXM4-80GB',
      utilization: 97,
      memory_used: 78123,
      memory_total: 81920,
      memory_usage: 95.4,
      temperature: 64,
      power_draw: 387.52,
    });
    expect(metrics.gpus![6]).toMatchObject({ index: 6, utilization: null, power_draw: null, memory_usage: 0 });
    expect(metrics.gpus![7]).toMatchObject({ index: 7, utilization: 3, power_draw: null });
  });

  it('has no gpus field on a host without nvidia-smi', () => {
    expect(parseResourceProbe(base.join('\n'))).not.toHaveProperty('gpus');
  });

  it('ignores login-shell noise and leaves missing metrics null', () => {
    const metrics = parseResourceProbe(['Welcome to GPU node 7', 'CPU garbage', 'MEM MemTotal: 1000', ''].join('\r\n'));
    expect(metrics).toEqual({ cpu_usage: null, memory_usage: null, disk_usage: null });
  });

  it('reports an idle interval as 0 % and never more than 100 %', () => {
    expect(parseResourceProbe('CPU 500 1000 600 1100').cpu_usage).toBe(0);
    expect(parseResourceProbe('CPU 500 1000 500 1100').cpu_usage).toBe(100);
  });
});
