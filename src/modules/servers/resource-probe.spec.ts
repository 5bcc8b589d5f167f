import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sample, SAMPLES_DIR } from '../../../test/helpers/accelerator-samples';
import { parseResourceProbe, resourceProbeCommand } from './resource-probe';

/** Output of one tool as the probe tags it: each line prefixed, then its exit status. */
function tagged(tool: string, output: string, exitStatus = 0): string[] {
  return [...output.split('\n').map((line) => `ACC ${tool} ${line}`), `ACC ${tool} @@exit ${exitStatus}`];
}

const base = [
  'CPU 1000 2000 1150 2400', // 400 jiffies elapsed, 150 idle → 62.5 % busy
  'MEM MemTotal: 16000000',
  'MEM MemAvailable: 4000000',
  'DISK 100000000 22000000 78000000',
];

describe('parseResourceProbe', () => {
  it('computes current CPU, used memory and root disk in percent with one decimal; no gpus without a tool', () => {
    expect(parseResourceProbe(base.join('\n'))).toEqual({ metrics: { cpu_usage: 62.5, memory_usage: 75, disk_usage: 22 }, warnings: [] });
  });

  it("reads every vendor's section through its parser, in the tools' order, whatever order the lines come in", () => {
    const ascend = tagged('npu-smi', sample('huawei-npu-smi-1.txt'));
    const cambricon = tagged('cnmon', sample('cambricon-cnmon-2.txt'));
    // Only the tags group the lines: sections mixed with each other and with the other metrics read the same.
    const mixed = ascend.flatMap((line, i) => [line, ...(cambricon[i] !== undefined ? [cambricon[i]] : [])]);
    const { metrics, warnings } = parseResourceProbe([base[0], ...mixed, ...cambricon.slice(ascend.length), ...base.slice(1)].join('\n'));
    expect(warnings).toEqual([]);
    expect(metrics.cpu_usage).toBe(62.5);
    expect(metrics.gpus!.map((card) => [card.vendor, card.name, card.index])).toEqual([
      ['huawei', '910B2C', 0],
      ['huawei', '910B2C', 1],
      ['cambricon', 'MLU370-X4', 0],
      ['cambricon', 'MLU370-X4', 1],
    ]);
    expect(metrics.gpus![0]).toMatchObject({ card_id: 0, chip_id: 0, utilization: 0, memory_used: 20701, memory_total: 65536, temperature: 51 });
  });

  it('keeps the other metrics and cards when one tool timed out, and says which', () => {
    const output = [...base, ...tagged('nvidia-smi', '', 124), ...tagged('npu-smi', sample('huawei-npu-smi-9.txt'))].join('\n');
    const { metrics, warnings } = parseResourceProbe(output);
    expect(metrics).toMatchObject({ cpu_usage: 62.5, memory_usage: 75, disk_usage: 22 });
    expect(metrics.gpus).toHaveLength(8);
    expect(warnings).toEqual([expect.stringMatching(/^nvidia-smi did not finish in time/)]);
  });

  it('turns output a parser does not understand into a warning, never an exception', () => {
    const { metrics, warnings } = parseResourceProbe([...base, ...tagged('npu-smi', 'npu-smi: command failed: dcmi error -8005', 255)].join('\n'));
    expect(metrics).toEqual({ cpu_usage: 62.5, memory_usage: 75, disk_usage: 22 });
    expect(warnings).toEqual(['npu-smi exited with status 255', expect.stringMatching(/^npu-smi: /)]);
  });

  it('ignores login-shell noise and leaves missing metrics null', () => {
    const { metrics } = parseResourceProbe(['Welcome to GPU node 7', 'CPU garbage', 'MEM MemTotal: 1000', 'ACCOUNT expires soon', ''].join('\r\n'));
    expect(metrics).toEqual({ cpu_usage: null, memory_usage: null, disk_usage: null });
  });

  it('clamps CPU to 0..100', () => {
    expect(parseResourceProbe('CPU 500 1000 600 1100').metrics.cpu_usage).toBe(0);
    expect(parseResourceProbe('CPU 500 1000 500 1100').metrics.cpu_usage).toBe(100);
  });
});

describe('the probe command, run by bash here', () => {
  let bin: string;

  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), 'probe-tools-'));
    const tool = (name: string, script: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    tool('npu-smi', `cat '${join(SAMPLES_DIR, 'huawei-npu-smi-15.txt')}'`);
    tool('mthreads-gmi', `cat '${join(SAMPLES_DIR, 'moorethreads-mthreads-gmi-1.txt')}'`);
    // Hangs: cut off by the tool timeout, without costing the rest.
    tool('cnmon', 'sleep 30');
    // Hygon's stack ships both: only hy-smi reports its cards.
    tool('hy-smi', `cat '${join(SAMPLES_DIR, 'hygon-hy-smi-2.txt')}'`);
    tool('rocm-smi', `cat '${join(SAMPLES_DIR, 'amd-rocm-smi-json-3.txt')}'`);
  });

  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  /** Idle (idle + iowait) and total jiffies of this host now, from the first line of /proc/stat. */
  const jiffies = (): [number, number] => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return [fields[3] + fields[4], fields.reduce((sum, value) => sum + value, 0)];
  };

  it("reads the host's CPU counters twice, half a second apart, as idle and total jiffies", async () => {
    const before = jiffies();
    const { stdout } = await promisify(execFile)('bash', ['-c', resourceProbeCommand(1)], { env: { PATH: '/usr/bin:/bin' } });
    const after = jiffies();
    const [idle1, total1, idle2, total2] = /^CPU (\d+) (\d+) (\d+) (\d+)$/m.exec(stdout)!.slice(1).map(Number);
    // Each reading lies between ours before and after it: the same counters, summed the same way.
    expect([before[0], idle1, idle2, after[0]]).toEqual([before[0], idle1, idle2, after[0]].sort((a, b) => a - b));
    expect([before[1], total1, total2, after[1]]).toEqual([before[1], total1, total2, after[1]].sort((a, b) => a - b));
    // Half a second on at least one core: some 50 jiffies at 100 per second.
    expect(total2 - total1).toBeGreaterThanOrEqual(40);
  });

  it('runs every tool found at once, cuts off a hanging one, and skips rocm-smi beside hy-smi', async () => {
    const { stdout } = await promisify(execFile)('bash', ['-c', resourceProbeCommand(1)], {
      env: { PATH: `${bin}:/usr/bin:/bin` },
      timeout: 20_000,
    });
    const { metrics, warnings } = parseResourceProbe(stdout);
    expect(metrics.cpu_usage).toEqual(expect.any(Number));
    expect(metrics.memory_usage).toEqual(expect.any(Number));
    expect(metrics.disk_usage).toEqual(expect.any(Number));
    const vendors = metrics.gpus!.map((card) => card.vendor);
    expect(vendors).toEqual([...Array<string>(2).fill('huawei'), 'hygon', ...Array<string>(8).fill('moorethreads')]);
    expect(metrics.gpus!.slice(0, 2).map((card) => [card.card_id, card.chip_id, card.name])).toEqual([
      [1792, 0, '310P3'],
      [1792, 1, '310P3'],
    ]);
    expect(warnings).toEqual(['cnmon did not finish in time (RESOURCES_TOOL_TIMEOUT_SECONDS)']);
  });
});
