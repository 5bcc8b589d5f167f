/**
 * One remote command measures everything, so a measurement costs one channel on a warm connection.
 * Every line is tagged so that login-shell noise cannot be mistaken for a value.
 * - CPU: two /proc/stat samples 0.5 s apart (busy share of the interval, not the average since boot)
 * - memory: MemTotal − MemAvailable
 * - disk: `df -P /`
 * - GPUs: nvidia-smi, when installed
 */
export const RESOURCE_PROBE_COMMAND = [
  `cpu() { awk '/^cpu /{ idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print idle, total; exit }' /proc/stat; }`,
  'echo "CPU $(cpu) $(sleep 0.5; cpu)"',
  `awk '/^(MemTotal|MemAvailable):/{ print "MEM", $1, $2 }' /proc/meminfo`,
  `df -P / | awk 'NR == 2 { print "DISK", $2, $3, $4 }'`,
  'if command -v nvidia-smi >/dev/null 2>&1; then',
  '  nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw --format=csv,noheader,nounits | sed "s/^/GPU /"',
  'fi',
].join('\n');

export interface GpuMetrics {
  index: number;
  name: string;
  /** Percent. */
  utilization: number | null;
  /** MiB. */
  memory_used: number | null;
  /** MiB. */
  memory_total: number | null;
  /** Percent of memory_total in use. */
  memory_usage: number | null;
  /** Degrees Celsius. */
  temperature: number | null;
  /** Watts. */
  power_draw: number | null;
}

export interface ResourceMetrics {
  cpu_usage: number | null;
  memory_usage: number | null;
  disk_usage: number | null;
  gpus?: GpuMetrics[];
}

const oneDecimal = (value: number) => Math.round(value * 10) / 10;
const percent = (part: number, whole: number) => (whole > 0 ? oneDecimal((part / whole) * 100) : null);

/** nvidia-smi prints `[N/A]` or `[Not Supported]` for what a card cannot report. */
function gpuNumber(text: string | undefined): number | null {
  const value = Number(text?.trim());
  return text !== undefined && text.trim() !== '' && Number.isFinite(value) ? value : null;
}

/** Reads the probe's tagged output; a metric whose lines are missing or malformed is null. */
export function parseResourceProbe(output: string): ResourceMetrics {
  const metrics: ResourceMetrics = { cpu_usage: null, memory_usage: null, disk_usage: null };
  const memory: Record<string, number> = {};
  const gpus: GpuMetrics[] = [];
  for (const line of output.split(/\r?\n/)) {
    const [tag, ...fields] = line.trim().split(/\s+/);
    if (tag === 'CPU' && fields.length === 4) {
      const [idle1, total1, idle2, total2] = fields.map(Number);
      const elapsed = total2 - total1;
      if ([idle1, total1, idle2, total2].every(Number.isFinite) && elapsed > 0) {
        metrics.cpu_usage = Math.min(100, Math.max(0, percent(elapsed - (idle2 - idle1), elapsed) ?? 0));
      }
    } else if (tag === 'MEM' && fields.length === 2) {
      memory[fields[0].replace(':', '')] = Number(fields[1]);
    } else if (tag === 'DISK' && fields.length === 3) {
      const [, used, available] = fields.map(Number);
      // df's Use% basis: used / (used + available), but to one decimal where df rounds up to a whole percent.
      if (Number.isFinite(used) && Number.isFinite(available) && used + available > 0) {
        metrics.disk_usage = oneDecimal((used / (used + available)) * 100);
      }
    } else if (tag === 'GPU') {
      const gpu = parseGpuLine(line.trim().slice(4));
      if (gpu) gpus.push(gpu);
    }
  }
  if (memory.MemTotal > 0 && Number.isFinite(memory.MemAvailable)) {
    metrics.memory_usage = percent(memory.MemTotal - memory.MemAvailable, memory.MemTotal);
  }
  if (gpus.length > 0) metrics.gpus = gpus;
  return metrics;
}

function parseGpuLine(csv: string): GpuMetrics | null {
  const fields = csv.split(',').map((field) => field.trim());
  if (fields.length !== 7 || gpuNumber(fields[0]) === null) return null;
  const [index, name, utilization, used, total, temperature, power] = fields;
  const memoryUsed = gpuNumber(used);
  const memoryTotal = gpuNumber(total);
  return {
    index: Number(index),
    name,
    utilization: gpuNumber(utilization),
    memory_used: memoryUsed,
    memory_total: memoryTotal,
    memory_usage: memoryUsed !== null && memoryTotal !== null ? percent(memoryUsed, memoryTotal) : null,
    temperature: gpuNumber(temperature),
    power_draw: gpuNumber(power),
  };
}
