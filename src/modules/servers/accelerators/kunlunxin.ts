import { AcceleratorMetrics, AcceleratorTool, blankCard, numberOrNull, ParsedAccelerators, usagePercent } from './accelerator-metrics';
import { boxCells, missingTableWarning, readCardsNeverThrowing, usedAndTotalMiB } from './table-text';

const TOOL = 'xpu-smi';

/** `100MiB / 98304MiB`, or `0 / 32768 MB` where the unit after the total applies to both. */
function setMemory(card: AcceleratorMetrics, text: string): void {
  [card.memory_used, card.memory_total] = usedAndTotalMiB(text);
  card.memory_usage = usagePercent(card.memory_used, card.memory_total);
}

const isBorder = (line: string) => /^\s*[-=+|]+\s*$/.test(line);

/**
 * Old `xpu_smi` (runtime 4.x): a DEVICES table, one row per device (`DevID | PCI Addr | Model | SN | INODE | UseRate |
 * L3 | Memory`), then VIDEO and PROCESSES tables that also have DevID columns; only the DEVICES header has both Model
 * and Memory. No temperature or power.
 */
function readDevicesTable(lines: string[], headerAt: number, cards: AcceleratorMetrics[], warnings: string[]): void {
  const header = boxCells(lines[headerAt]) ?? [];
  const column = (label: string) => header.indexOf(label);
  for (const line of lines.slice(headerAt + 1)) {
    if (isBorder(line)) continue;
    const cells = boxCells(line);
    // The table ends at the next section title (`  VIDEO`).
    if (!cells) break;
    if (cells.length !== header.length || !/^\d+$/.test(cells[column('DevID')])) {
      warnings.push(`${TOOL} device row could not be read: ${line.trim()}`);
      continue;
    }
    const card = blankCard('kunlunxin', Number(cells[column('DevID')]), cells[column('Model')]);
    card.utilization = numberOrNull(cells[column('UseRate')]);
    setMemory(card, cells[column('Memory')]);
    cards.push(card);
  }
}

/**
 * New `xpu-smi` (nvidia-smi-like): three boxed rows per device — `XPU Name Persistence-M | Bus-Id Disp.A | ECC`, then
 * `Fan Temp Perf Pwr:Usage/Cap | Memory-Usage | XPU-Util Compute M.`, then the L3 (on-chip SRAM) usage, left out.
 * Fields inside a cell are found by their position among the header's words.
 */
function readSmiTable(lines: string[], headerAt: number, cards: AcceleratorMetrics[], warnings: string[]): void {
  const header = boxCells(lines[headerAt]) ?? [];
  const headerColumn = (label: string) => header.findIndex((cell) => cell.includes(label));
  const [thermalColumn, memoryColumn, utilizationColumn] = [headerColumn('Temp'), headerColumn('Memory-Usage'), headerColumn('XPU-Util')];
  const thermalWords = header[thermalColumn]?.split(/\s+/) ?? [];
  const [temperatureWord, powerWord] = [thermalWords.indexOf('Temp'), thermalWords.findIndex((word) => word.startsWith('Pwr'))];
  for (let at = headerAt + 1; at < lines.length; at++) {
    if (/^\|?\s*Processes:/.test(lines[at])) break;
    const cells = boxCells(lines[at]);
    // A whole row only, so that a metrics row cut short cannot pass for a device.
    const device = cells?.length === header.length ? /^(\d+)\s+(\S.*?)(?:\s+(?:On|Off|N\/A))?$/.exec(cells[0]) : null;
    if (!device) continue;
    const card = blankCard('kunlunxin', Number(device[1]), device[2]);
    const metrics = boxCells(lines[at + 1]);
    if (metrics && metrics.length === header.length) {
      const thermal = metrics[thermalColumn].split(/\s+/);
      card.temperature = numberOrNull(thermal[temperatureWord]);
      card.power_draw = numberOrNull(thermal[powerWord]);
      setMemory(card, metrics[memoryColumn]);
      card.utilization = numberOrNull(metrics[utilizationColumn].split(/\s+/)[0]);
      at++;
    } else {
      warnings.push(`${TOOL} output stops before the metrics row of XPU ${card.index}`);
    }
    cards.push(card);
  }
}

function readDeviceTable(output: string, cards: AcceleratorMetrics[], warnings: string[]): void {
  const lines = output.split(/\r?\n/);
  const devicesHeaderAt = lines.findIndex((line) => ['DevID', 'Model', 'Memory'].every((label) => boxCells(line)?.includes(label)));
  const smiHeaderAt = lines.findIndex((line) => ['Temp', 'Memory-Usage', 'XPU-Util'].every((label) => line.includes(label)));
  if (devicesHeaderAt >= 0) readDevicesTable(lines, devicesHeaderAt, cards, warnings);
  else if (smiHeaderAt >= 0) readSmiTable(lines, smiHeaderAt, cards, warnings);
  else {
    warnings.push(missingTableWarning(TOOL, output));
    return;
  }
  if (cards.length === 0) warnings.push(`${TOOL} listed no devices`);
}

function parseXpuSmi(output: string): ParsedAccelerators {
  return readCardsNeverThrowing(TOOL, (cards, warnings) => readDeviceTable(output, cards, warnings));
}

/**
 * The default table: no real `xpu-smi -m` output is known. The parser reads both the old `xpu_smi` layout and the new
 * nvidia-smi-like one.
 */
export const KUNLUNXIN_XPU_SMI: AcceleratorTool = {
  vendor: 'kunlunxin',
  tool: TOOL,
  command: TOOL,
  parse: parseXpuSmi,
};

/** Old runtimes (4.x) install the tool as `xpu_smi`; where both names exist, `xpu-smi` alone lists the cards. */
export const KUNLUNXIN_XPU_SMI_LEGACY: AcceleratorTool = {
  vendor: 'kunlunxin',
  tool: 'xpu_smi',
  unlessFound: TOOL,
  command: 'xpu_smi',
  parse: parseXpuSmi,
};
