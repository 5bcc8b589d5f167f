import {
  AcceleratorMetrics,
  AcceleratorTool,
  AcceleratorVendor,
  blankCard,
  numberOrNull,
  ParsedAccelerators,
  usagePercent,
} from './accelerator-metrics';
import { mebibytes, readCardsNeverThrowing } from './table-text';

/**
 * AMD's rocm-smi and Hygon's hy-smi (a fork of it; DTK also ships a Hygon build of rocm-smi) print the same JSON and
 * the same "concise" table, with GPU/DCU/HCU in the names. The JSON command is GPUStack v0.7.1's, which printed both
 * the AMD and the Hygon real samples.
 */
const ROCM_SMI_JSON_COMMAND =
  'rocm-smi --showid --showmeminfo vram --showpower --showserial --showuse --showtemp --showproductname --showuniqueid --json';

/** Reads rocm-smi's `{"card0": {"GPU use (%)": "0", "VRAM Total Memory (B)": "...", ...}}`; other top-level keys are ignored. */
function parseRocmSmiJson(output: string, vendor: AcceleratorVendor): ParsedAccelerators {
  return readCardsNeverThrowing('rocm-smi', (cards, warnings) => {
    const devices = readJsonObject(output);
    if (!devices) {
      warnings.push(`rocm-smi printed no readable JSON: ${output.trim().slice(0, 80)}`);
      return;
    }
    for (const [key, fields] of Object.entries(devices)) {
      const cardNumber = /^card(\d+)$/.exec(key);
      if (!cardNumber || typeof fields !== 'object' || fields === null) continue;
      cards.push(readJsonCard(vendor, Number(cardNumber[1]), key, fields as Record<string, unknown>));
    }
    cards.sort((a, b) => a.index - b.index);
    if (cards.length === 0) warnings.push('rocm-smi listed no cards');
  });
}

/** The JSON object in the output, skipping any warning lines printed around it; null when there is none or it is cut short. */
function readJsonObject(output: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function readJsonCard(vendor: AcceleratorVendor, index: number, key: string, fields: Record<string, unknown>): AcceleratorMetrics {
  // Key spelling changes between versions ("Card Series"/"Card series", "vram"/"VRAM", GPU/DCU/HCU).
  const entries = Object.entries(fields).map(([name, value]) => [name.toLowerCase(), String(value).trim()] as const);
  const first = (...patterns: RegExp[]) => {
    for (const pattern of patterns) {
      const entry = entries.find(([name, value]) => pattern.test(name) && numberOrNull(value) !== null);
      if (entry) return entry;
    }
    return undefined;
  };
  const text = (...names: string[]) =>
    names.map((name) => entries.find(([key]) => key === name)?.[1]).find((value) => value && !/^n\/?a$/i.test(value));

  const card = blankCard(vendor, index, text('card series', 'device name') ?? key);
  card.utilization = numberOrNull(first(/^(gpu|dcu|hcu) use \(%\)$/)?.[1]);
  card.memory_used = memoryEntryMiB(first(/^vram total used memory \(\w+\)$/));
  card.memory_total = memoryEntryMiB(first(/^vram total memory \(\w+\)$/));
  card.memory_usage = usagePercent(card.memory_used, card.memory_total);
  // The concise table's Temp is the edge sensor, or junction on cards without one (MI300).
  card.temperature = numberOrNull(first(/^temperature \(sensor edge\) \(c\)$/, /^temperature \(sensor junction\) \(c\)$/)?.[1]);
  card.power_draw = numberOrNull(first(/^average graphics package power \(w\)$/, /^current socket graphics package power \(w\)$/)?.[1]);
  return card;
}

/** A memory entry in whole MiB, its unit taken from the key (`VRAM Total Memory (B)`, `vram Total Memory (MiB)`). */
function memoryEntryMiB(entry: readonly [string, string] | undefined): number | null {
  const mib = entry && mebibytes(entry[1], /\((\w+)\)$/.exec(entry[0])?.[1]);
  return typeof mib === 'number' ? Math.round(mib) : null;
}

/**
 * Reads the concise table hy-smi prints (and older rocm-smi builds on Hygon): a header such as
 * `HCU Temp AvgPwr Perf PwrCap VRAM% HCU% Mode` then one whitespace-separated row per device up to a `====` rule.
 * VRAM% is the only memory figure it has, so memory_usage is taken as printed.
 */
function parseConciseTable(output: string, vendor: AcceleratorVendor, tool: string, name: string): ParsedAccelerators {
  return readCardsNeverThrowing(tool, (cards, warnings) => {
    const lines = output.split(/\r?\n/);
    const headerAt = lines.findIndex((line) => /^\s*(GPU|DCU|HCU)\s+Temp\s/.test(line));
    if (headerAt < 0) {
      warnings.push(`${tool} printed no device table: ${output.trim().slice(0, 80)}`);
      return;
    }
    const header = lines[headerAt].trim().split(/\s+/);
    const column = (title: string) => header.indexOf(title);
    const utilization = column(`${header[0]}%`);

    for (const line of lines.slice(headerAt + 1)) {
      if (/^\s*=/.test(line)) break;
      if (line.trim() === '') continue;
      const cells = line.trim().split(/\s+/);
      const index = numberOrNull(cells[0]);
      if (cells.length !== header.length || index === null || !Number.isInteger(index)) {
        warnings.push(`${tool} row does not match its header: ${line.trim().slice(0, 80)}`);
        continue;
      }
      const cell = (at: number) => (at >= 0 ? cells[at] : undefined);
      const card = blankCard(vendor, index, name);
      card.utilization = numberOrNull(cell(utilization));
      card.memory_usage = numberOrNull(cell(column('VRAM%')));
      card.temperature = numberOrNull(cell(column('Temp')));
      card.power_draw = numberOrNull(cell(column('AvgPwr')));
      cards.push(card);
    }
    if (cards.length === 0) warnings.push(`${tool} listed no devices`);
  });
}

export const AMD_ROCM_SMI: AcceleratorTool = {
  vendor: 'amd',
  tool: 'rocm-smi',
  // Hygon's DCU stack ships a rocm-smi too: its cards are hy-smi's, not AMD's, and must not be listed twice.
  unlessFound: 'hy-smi',
  command: ROCM_SMI_JSON_COMMAND,
  parse: (output) => parseRocmSmiJson(output, 'amd'),
};

/**
 * hy-smi's default table: it ships with the DCU driver (hyhal), and every real sample of it is a table. Its `--json`
 * has no real sample here and is not valid JSON in newer builds. The table names no product and gives memory only as VRAM%.
 */
export const HYGON_HY_SMI: AcceleratorTool = {
  vendor: 'hygon',
  tool: 'hy-smi',
  command: 'hy-smi',
  parse: (output) => parseConciseTable(output, 'hygon', 'hy-smi', 'Hygon DCU'),
};
