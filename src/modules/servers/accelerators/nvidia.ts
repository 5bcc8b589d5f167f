import { AcceleratorTool, blankCard, numberOrNull, ParsedAccelerators, usagePercent } from './accelerator-metrics';
import { readCardsNeverThrowing } from './table-text';

/** The query fields the probe asks for; the header line names them, so the parser reads any order or subset. */
const QUERY_FIELDS = ['index', 'name', 'utilization.gpu', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw'];

/**
 * Reads `nvidia-smi --query-gpu=... --format=csv[,nounits]`: a header line (`memory.used [MiB]`...) then one row per
 * GPU. Columns are found by header name, so units in cells (`682 MiB`, `100 %`) and `[N/A]`-style cells are fine; a
 * missing `index` column numbers the rows in order.
 */
export function parseNvidiaSmiCsv(output: string): ParsedAccelerators {
  return readCardsNeverThrowing('nvidia-smi', (cards, warnings) => {
    const lines = output.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines.length === 0) {
      warnings.push('nvidia-smi printed nothing');
      return;
    }

    // `memory.used [MiB]` → `memory.used`: the unit is MiB, W, % or °C whether or not nounits was given.
    const header = splitRow(lines[0]).map((column) => column.replace(/\s*\[[^\]]*\]$/, ''));
    const column = (field: string) => header.indexOf(field);
    const missing = QUERY_FIELDS.filter((field) => column(field) < 0);
    if (missing.length === QUERY_FIELDS.length) {
      warnings.push(`nvidia-smi printed no csv header line naming ${QUERY_FIELDS.join(', ')}: ${lines[0].slice(0, 80)}`);
      return;
    }
    if (missing.length > 0) warnings.push(`nvidia-smi csv has no column for ${missing.join(', ')}`);

    lines.slice(1).forEach((line, row) => {
      const cells = splitRow(line);
      if (cells.length !== header.length) {
        warnings.push(`nvidia-smi csv row ${row + 1} has ${cells.length} fields, the header ${header.length}: ${line.slice(0, 80)}`);
        return;
      }
      const cell = (field: string) => (column(field) >= 0 ? cells[column(field)] : undefined);
      const index = column('index') >= 0 ? numberOrNull(cell('index')) : row;
      if (index === null || !Number.isInteger(index)) {
        warnings.push(`nvidia-smi csv row ${row + 1} has no GPU index: ${line.slice(0, 80)}`);
        return;
      }
      const card = blankCard('nvidia', index, cell('name') ?? 'NVIDIA GPU');
      card.utilization = numberOrNull(cell('utilization.gpu'));
      card.memory_used = numberOrNull(cell('memory.used'));
      card.memory_total = numberOrNull(cell('memory.total'));
      card.memory_usage = usagePercent(card.memory_used, card.memory_total);
      card.temperature = numberOrNull(cell('temperature.gpu'));
      card.power_draw = numberOrNull(cell('power.draw'));
      cards.push(card);
    });
    if (cards.length === 0) warnings.push('nvidia-smi listed no GPUs');
  });
}

/** nvidia-smi separates cells with `, ` and never quotes: no field it prints here contains a comma. */
function splitRow(line: string): string[] {
  return line.split(',').map((cell) => cell.trim());
}

export const NVIDIA_SMI: AcceleratorTool = {
  vendor: 'nvidia',
  tool: 'nvidia-smi',
  command: `nvidia-smi --query-gpu=${QUERY_FIELDS.join(',')} --format=csv,nounits`,
  parse: parseNvidiaSmiCsv,
};
