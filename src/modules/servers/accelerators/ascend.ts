import { AcceleratorMetrics, AcceleratorTool, blankCard, numberOrNull, ParsedAccelerators, usagePercent } from './accelerator-metrics';

/**
 * `npu-smi info` prints each chip as a block of two rows under a two-line header, whatever the version:
 *
 *   | NPU   Name            | Health  | Power(W)   Temp(C)           Hugepages-Usage(page) |
 *   | Chip [Device|Phy-ID]  | Bus-Id  | AICore(%)  Memory-Usage(MB)  HBM-Usage(MB)         |
 *
 * The metric cells hold several values side by side in the order of their header's column names (older versions
 * lack Hugepages, 310-class chips lack HBM, 26.x only widens the cells). A process table may follow.
 */
export function parseNpuSmi(output: string): ParsedAccelerators {
  const cards: AcceleratorMetrics[] = [];
  const warnings: string[] = [];
  try {
    readDeviceTable(output, cards, warnings);
  } catch (error) {
    warnings.push(`npu-smi: output could not be read (${error instanceof Error ? error.message : String(error)})`);
  }
  return { cards, warnings };
}

/** npu-smi has no JSON/CSV mode; `npu-smi info` is the one call that lists every card and chip. */
export const ASCEND_NPU_SMI: AcceleratorTool = { vendor: 'huawei', tool: 'npu-smi', command: 'npu-smi info', parse: parseNpuSmi };

/** The columns the card is built from; a header without one of them is a layout this parser does not know. */
const EXPECTED_COLUMNS = ['Power(W)', 'Temp(C)', 'AICore(%)', 'Memory-Usage(MB)'];

/** One value of a metric cell: a word, or a `used / total` pair however it is spaced (`0    / 0`, `20701/ 65536`). */
const VALUE = /[^\s/]+\s*\/\s*[^\s/]+|[^\s/]+/g;

/** The cells of the two header lines: the one naming a chip's first row (`NPU Name | Health | ...`) and its second (`Chip | Bus-Id | ...`). */
interface DeviceHeader {
  nameRow: string[];
  chipRow: string[];
}

function readDeviceTable(output: string, cards: AcceleratorMetrics[], warnings: string[]): void {
  let nameHeader: string[] | undefined;
  let header: DeviceHeader | undefined;
  let inProcessTable = false;
  let block: string[][] = [];
  const flushBlock = () => {
    if (header && block.length > 0) addChip(header, block, cards, warnings);
    block = [];
  };

  for (const rawLine of output.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line.startsWith('|')) {
      // Borders (`+---+`, `+===+`) close a chip's block; so does anything else that is not a table row.
      flushBlock();
      continue;
    }
    if (!line.endsWith('|')) {
      warnings.push(`npu-smi: skipped a cut-off line: ${line}`);
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    const firstWord = cells[0].split(/\s+/)[0];
    if (firstWord === 'NPU' && cells[1] === 'Health') {
      flushBlock();
      nameHeader = cells;
      header = undefined;
      inProcessTable = false;
    } else if (firstWord === 'Chip' && cells[1] === 'Bus-Id' && nameHeader && !header) {
      header = { nameRow: nameHeader, chipRow: cells };
      const columns = [...metricColumns(nameHeader), ...metricColumns(cells)];
      const missing = EXPECTED_COLUMNS.filter((column) => !columns.includes(column));
      if (missing.length > 0) warnings.push(`npu-smi: the device table has no ${missing.join(', ')} column`);
    } else if (firstWord === 'NPU' && cells[1]?.startsWith('Process')) {
      // The process table below the devices repeats NPU and chip ids: its rows are not chips.
      flushBlock();
      inProcessTable = true;
    } else if (header && !inProcessTable) {
      block.push(cells);
    }
  }
  flushBlock();

  if (!nameHeader) {
    const firstLine = output.split(/\r?\n/).find((line) => line.trim() !== '');
    warnings.push(firstLine === undefined ? 'npu-smi printed nothing' : `npu-smi printed no device table: ${firstLine.trim().slice(0, 200)}`);
  } else if (!header) {
    warnings.push('npu-smi: the device table header is incomplete');
  } else if (cards.length === 0) {
    warnings.push('npu-smi: the device table lists no NPU');
  }
}

/** The column names of the metric cells (every cell after Name/Chip and Health/Bus-Id) of one header line. */
function metricColumns(headerCells: string[]): string[] {
  return headerCells.slice(2).flatMap((cell) => cell.split(/\s+/).filter(Boolean));
}

/** Reads one chip's block: its `NPU Name | Health` row and its `Chip | Bus-Id` row. */
function addChip(header: DeviceHeader, block: string[][], cards: AcceleratorMetrics[], warnings: string[]): void {
  const [nameRow, chipRow] = block;
  const [npuId, ...nameWords] = nameRow[0].split(/\s+/);
  if (!/^\d+$/.test(npuId)) {
    warnings.push(`npu-smi: skipped a row that names no NPU: ${nameRow.join(' | ')}`);
    return;
  }
  const values = new Map<string, string>();
  readMetricCells(header.nameRow, nameRow, values, warnings);

  const card = blankCard('huawei', cards.length, nameWords.join(' '));
  card.card_id = Number(npuId);
  card.health = nameRow[1] || null;
  if (chipRow) {
    const chipId = chipRow[0].split(/\s+/)[0];
    if (/^\d+$/.test(chipId)) card.chip_id = Number(chipId);
    readMetricCells(header.chipRow, chipRow, values, warnings);
  } else {
    warnings.push(`npu-smi: NPU ${npuId} has no chip row`);
  }
  if (block.length > 2) warnings.push(`npu-smi: ignored ${block.length - 2} extra row(s) of NPU ${npuId}`);

  card.utilization = numberOrNull(values.get('AICore(%)'));
  card.temperature = numberOrNull(values.get('Temp(C)'));
  card.power_draw = numberOrNull(values.get('Power(W)'));
  // 910-class chips report their HBM beside the control CPU's DDR; the HBM is the memory a workload uses.
  const [hbmUsed, hbmTotal] = usedAndTotal(values.get('HBM-Usage(MB)'));
  const [used, total] = hbmTotal !== null && hbmTotal > 0 ? [hbmUsed, hbmTotal] : usedAndTotal(values.get('Memory-Usage(MB)'));
  card.memory_used = used;
  card.memory_total = total;
  card.memory_usage = usagePercent(used, total);
  cards.push(card);
}

/** Pairs each metric cell's values with its header's column names; a cell whose values do not line up is left out. */
function readMetricCells(headerCells: string[], rowCells: string[], values: Map<string, string>, warnings: string[]): void {
  for (let cell = 2; cell < headerCells.length; cell++) {
    const names = headerCells[cell].split(/\s+/).filter(Boolean);
    const cellValues = rowCells[cell]?.match(VALUE) ?? [];
    if (cellValues.length !== names.length) {
      warnings.push(`npu-smi: cannot tell ${names.join(', ')} apart in "${rowCells[cell] ?? ''}" (row ${rowCells.join(' | ')})`);
      continue;
    }
    names.forEach((name, position) => values.set(name, cellValues[position]));
  }
}

/** MB as npu-smi prints it (MiB in fact) from `used / total`. */
function usedAndTotal(pair: string | undefined): [number | null, number | null] {
  const [used, total] = (pair ?? '').split('/');
  return [numberOrNull(used), numberOrNull(total)];
}
