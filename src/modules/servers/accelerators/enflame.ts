import { AcceleratorMetrics, AcceleratorTool, blankCard, numberOrNull, ParsedAccelerators } from './accelerator-metrics';
import { boxCells, mebibytes, missingTableWarning, readCardsNeverThrowing } from './table-text';

const TOOL = 'efsmi';

/** `39 C   Sleep    105W  300W`, `35℃    LP1      68W / 300W`, `34℃    LP0      N/A`: temperature, power state, power. */
const THERMAL_CELL = /^(?<temperature>\S+?)\s*(?:C|℃)?\s+(?<state>\S+)\s+(?<power>\S.*)$/;

/**
 * The default `efsmi` table (1.2 to 1.7). Each device is two boxed rows under a two-row header: `DEV NAME | FW VER |
 * BUS-ID ECC`, then `TEMP Dpm|Lpm Pwr(Usage/Cap) | Mem GCU Virt | DUsed SN`. Mem is the total only, so memory used and
 * its percent stay unknown. The second row also starts with a number (the temperature), so rows are read in pairs.
 */
function readDeviceTable(output: string, cards: AcceleratorMetrics[], warnings: string[]): void {
  const lines = output.split(/\r?\n/);
  const headerAt = lines.findIndex((line, at) => boxCells(line)?.[0].startsWith('DEV') && boxCells(lines[at + 1])?.[0].startsWith('TEMP'));
  if (headerAt < 0) {
    warnings.push(missingTableWarning(TOOL, output));
    return;
  }
  const header = boxCells(lines[headerAt + 1]) ?? [];
  const column = (label: string) => header.findIndex((cell) => cell.startsWith(label));
  const [thermalColumn, memoryColumn, utilizationColumn] = [column('TEMP'), column('Mem'), column('DUsed')];
  if (Math.min(thermalColumn, memoryColumn, utilizationColumn) < 0) {
    warnings.push(`${TOOL} device table has unknown columns: ${header.join(' | ')}`);
    return;
  }
  for (let at = headerAt + 2; at < lines.length; at++) {
    const cells = boxCells(lines[at]);
    // A whole row only: a metrics row cut short also starts with a number.
    const device = cells?.length === header.length ? /^(\d+)\s+(\S.*)$/.exec(cells[0]) : null;
    if (!device) continue;
    const card = blankCard('enflame', Number(device[1]), device[2]);
    const metrics = boxCells(lines[at + 1]);
    if (metrics && metrics.length === header.length) {
      const thermal = THERMAL_CELL.exec(metrics[thermalColumn])?.groups;
      card.temperature = numberOrNull(thermal?.temperature ?? metrics[thermalColumn]);
      card.power_draw = numberOrNull(thermal?.power.split(/\s+/)[0]);
      card.memory_total = mebibytes(metrics[memoryColumn].split(/\s+/)[0]);
      card.utilization = numberOrNull(metrics[utilizationColumn].split(/\s+/)[0]);
      at++;
    } else {
      warnings.push(`${TOOL} output stops before the metrics row of device ${card.index}`);
    }
    cards.push(card);
  }
  if (cards.length === 0) warnings.push(`${TOOL} listed no devices`);
}

function parseEfsmi(output: string): ParsedAccelerators {
  return readCardsNeverThrowing(TOOL, (cards, warnings) => readDeviceTable(output, cards, warnings));
}

/**
 * The default table, as three of the four real efsmi samples show: it names each device and gives its utilization,
 * temperature, power and memory size in one call. `efsmi -dmon` adds memory used (as a percent) but names no device,
 * is a monitor mode that may sample until stopped (as nvidia-smi dmon does), and its one sample has no stated command;
 * `efsmi -q` has no real sample.
 */
export const ENFLAME_EFSMI: AcceleratorTool = {
  vendor: 'enflame',
  tool: TOOL,
  command: TOOL,
  parse: parseEfsmi,
};
