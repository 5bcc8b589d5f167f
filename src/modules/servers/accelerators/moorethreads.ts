import { AcceleratorMetrics, AcceleratorTool, blankCard, numberOrNull, ParsedAccelerators, usagePercent } from './accelerator-metrics';
import { mebibytes, missingTableWarning, readCardsNeverThrowing } from './table-text';

const TOOL = 'mthreads-gmi';

/** `0    MTT S5000     ` — the first cell of a device's first row: its ID and name. */
const DEVICE_CELL = /^(\d+)\s+(\S.*?)\s*$/;

/**
 * The default `mthreads-gmi` table (1.12 to 2.4 print the same columns; 2.x adds Perf). Each device is three rows
 * split by `|`: ID and name, PCIe, `%GPU  Mem` as `0%  662MiB(16384MiB)`; then, under the same cell, the temperature.
 * There is no power column. The Processes block below has no `|` cells, and the parser stops at it anyway.
 */
function readDeviceTable(output: string, cards: AcceleratorMetrics[], warnings: string[]): void {
  const lines = output.split(/\r?\n/);
  const headerAt = lines.findIndex((line) => /^ID\s+Name\b/.test(line) && line.includes('%GPU'));
  if (headerAt < 0) {
    warnings.push(missingTableWarning(TOOL, output));
    return;
  }
  const metricsColumn = lines[headerAt].split('|').findIndex((cell) => cell.includes('%GPU'));
  for (let at = headerAt + 1; at < lines.length; at++) {
    if (/^\s*Processes:/.test(lines[at])) break;
    const cells = lines[at].split('|');
    const device = DEVICE_CELL.exec(cells[0]);
    if (!device || cells.length <= metricsColumn) continue;
    const card = blankCard('moorethreads', Number(device[1]), device[2]);
    const [utilization, memory] = cells[metricsColumn].trim().split(/\s+/);
    const [, used, total] = /^(.+?)\((.+)\)$/.exec(memory ?? '') ?? [];
    card.utilization = numberOrNull(utilization);
    card.memory_used = mebibytes(used);
    card.memory_total = mebibytes(total);
    card.memory_usage = usagePercent(card.memory_used, card.memory_total);
    const details = lines[at + 1]?.split('|');
    if (details && details.length > metricsColumn && !DEVICE_CELL.test(details[0])) {
      card.temperature = numberOrNull(details[metricsColumn].trim().split(/\s+/)[0]);
      at++;
    } else {
      warnings.push(`${TOOL} output stops before the temperature row of device ${card.index}`);
    }
    cards.push(card);
  }
  if (cards.length === 0) warnings.push(`${TOOL} listed no devices`);
}

function parseMthreadsGmi(output: string): ParsedAccelerators {
  return readCardsNeverThrowing(TOOL, (cards, warnings) => readDeviceTable(output, cards, warnings));
}

/** No real `mthreads-gmi -q --json` output is known, so the probe runs the default table, which every sample shows. */
export const MOORETHREADS_GMI: AcceleratorTool = {
  vendor: 'moorethreads',
  tool: TOOL,
  command: TOOL,
  parse: parseMthreadsGmi,
};
