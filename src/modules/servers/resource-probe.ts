import { shellQuote } from '../../ssh/shell-quote';
import { ACCELERATOR_TOOLS } from './accelerators';
import { AcceleratorMetrics, AcceleratorTool } from './accelerators/accelerator-metrics';

/** Tags the lines of one tool's output: `ACC <tool> <line>`, and last `ACC <tool> <END> <exit status>`. */
const TOOL_TAG = 'ACC';
const TOOL_END = '@@exit';
/** `timeout`'s exit status when it cut the tool off (124), or had to kill it (137). */
const TIMED_OUT = new Set([124, 137]);

/** Where vendors install their tools when the login PATH does not name it (non-root users often lack /usr/local/sbin). */
const VENDOR_TOOL_DIRS = ['/usr/local/sbin', '/usr/sbin', '/opt/rocm/bin', '/opt/hyhal/bin', '/usr/local/corex/bin'];

function found(tool: string): string {
  return `command -v ${tool} >/dev/null 2>&1`;
}

/**
 * Runs the tool in the background into a file of its own: tools that wrote to the probe's output at once could
 * interleave inside a line (a full nvidia-smi CSV line is longer than a pipe's atomic write).
 */
function toolRun(tool: AcceleratorTool): string {
  const wanted = tool.unlessFound ? `${found(tool.tool)} && ! ${found(tool.unlessFound)}` : found(tool.tool);
  const file = `"$tools/${tool.tool}"`;
  return `if ${wanted}; then (bounded sh -c ${shellQuote(tool.command)} >${file} 2>/dev/null; echo "${TOOL_END} $?" >>${file}) & fi`;
}

/**
 * One remote command measures everything, so a measurement costs one channel on a warm connection.
 * Every line is tagged so that login-shell noise cannot be mistaken for a value.
 * - CPU: two /proc/stat samples 0.5 s apart (busy share of the interval, not the average since boot), started first
 *   in the background: the tools' start-up (a fork and a few execs each, some 20 ms apart on a busy host) then runs
 *   within the half second instead of before it
 * - accelerators: every vendor tool found on the PATH, run in the background at once, each cut off after
 *   `toolTimeoutSeconds`; they overlap the CPU sample, so they add little to the probe's time
 * - memory: MemTotal − MemAvailable
 * - disk: `df -P /`
 * The tools' outputs are gathered from their files by one process, not one per tool.
 */
export function resourceProbeCommand(toolTimeoutSeconds: number): string {
  return [
    `PATH="$PATH:${VENDOR_TOOL_DIRS.join(':')}"`,
    `bounded() { if command -v timeout >/dev/null 2>&1; then timeout -k 1 ${toolTimeoutSeconds} "$@"; else "$@"; fi; }`,
    // Bash builtins only (the probe runs under bash -l): the sample's start waits for no fork.
    'cpu() { read -r -a f </proc/stat; idle=$((f[4] + f[5])); total=0; for ((i = 1; i < ${#f[@]}; i++)); do total=$((total + f[i])); done; }',
    // One short line in one write: it cannot interleave with the other lines of the probe's own output.
    '(cpu; first="$idle $total"; sleep 0.5; cpu; echo "CPU $first $idle $total") &',
    'tools=$(mktemp -d)',
    ...ACCELERATOR_TOOLS.map(toolRun),
    `awk '/^(MemTotal|MemAvailable):/{ print "MEM", $1, $2 }' /proc/meminfo`,
    `df -P / | awk 'NR == 2 { print "DISK", $2, $3, $4 }'`,
    'wait',
    `set -- "$tools"/*`,
    `[ -f "$1" ] && awk '{ tool = FILENAME; sub(/.*\\//, "", tool); print "${TOOL_TAG} " tool " " $0 }' "$@"`,
    'rm -rf "$tools"',
  ].join('\n');
}

export interface ResourceMetrics {
  cpu_usage: number | null;
  memory_usage: number | null;
  disk_usage: number | null;
  /** Every accelerator of every vendor (the old name, kept for clients); absent when no tool was found. */
  gpus?: AcceleratorMetrics[];
}

export interface ProbeReading {
  metrics: ResourceMetrics;
  /** What could not be read (a tool that timed out, output a parser did not understand), for the log. */
  warnings: string[];
}

const oneDecimal = (value: number) => Math.round(value * 10) / 10;
const percent = (part: number, whole: number) => (whole > 0 ? oneDecimal((part / whole) * 100) : null);

/** Reads the probe's tagged output; a metric whose lines are missing or malformed is null. */
export function parseResourceProbe(output: string): ProbeReading {
  const metrics: ResourceMetrics = { cpu_usage: null, memory_usage: null, disk_usage: null };
  const memory: Record<string, number> = {};
  const toolOutput = new Map<string, string[]>();
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.startsWith(`${TOOL_TAG} `)) {
      const rest = line.slice(TOOL_TAG.length + 1);
      const space = rest.indexOf(' ');
      const tool = space < 0 ? rest : rest.slice(0, space);
      toolOutput.set(tool, [...(toolOutput.get(tool) ?? []), space < 0 ? '' : rest.slice(space + 1)]);
      continue;
    }
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
    }
  }
  if (memory.MemTotal > 0 && Number.isFinite(memory.MemAvailable)) {
    metrics.memory_usage = percent(memory.MemTotal - memory.MemAvailable, memory.MemTotal);
  }
  const { cards, warnings } = readAccelerators(toolOutput);
  if (cards.length > 0) metrics.gpus = cards;
  return { metrics, warnings };
}

/** Each tool's lines through its parser, in the order of ACCELERATOR_TOOLS. */
function readAccelerators(toolOutput: Map<string, string[]>): { cards: AcceleratorMetrics[]; warnings: string[] } {
  const cards: AcceleratorMetrics[] = [];
  const warnings: string[] = [];
  for (const tool of ACCELERATOR_TOOLS) {
    const lines = toolOutput.get(tool.tool);
    if (!lines) continue;
    const endAt = lines.findIndex((line) => line.startsWith(`${TOOL_END} `));
    const status = endAt < 0 ? null : Number(lines[endAt].slice(TOOL_END.length + 1));
    if (status !== null && TIMED_OUT.has(status)) {
      // What a cut-off tool printed is incomplete: half a table would show cards that are not there.
      warnings.push(`${tool.tool} did not finish in time (RESOURCES_TOOL_TIMEOUT_SECONDS)`);
      continue;
    }
    if (status !== 0) warnings.push(`${tool.tool} exited with status ${status ?? 'unknown'}`);
    try {
      const parsed = tool.parse((endAt < 0 ? lines : lines.slice(0, endAt)).join('\n'));
      cards.push(...parsed.cards);
      warnings.push(...parsed.warnings.map((warning) => `${tool.tool}: ${warning}`));
    } catch (error) {
      // Parsers do not throw by contract; should one, the other metrics still stand.
      warnings.push(`${tool.tool}: output not understood (${String(error)})`);
    }
  }
  return { cards, warnings };
}
