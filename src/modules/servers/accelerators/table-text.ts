import { AcceleratorMetrics, AcceleratorVendor, blankCard, numberOrNull, ParsedAccelerators, usagePercent } from './accelerator-metrics';

/**
 * Runs one tool's parsing so that it never throws, as `ParsedAccelerators` promises: `read` adds cards and warnings
 * as it goes, and an exception becomes a warning. Cards read before the failure are still good and are kept.
 */
export function readCardsNeverThrowing(tool: string, read: (cards: AcceleratorMetrics[], warnings: string[]) => void): ParsedAccelerators {
  const cards: AcceleratorMetrics[] = [];
  const warnings: string[] = [];
  try {
    read(cards, warnings);
  } catch (error) {
    warnings.push(`${tool} output could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { cards, warnings };
}

/** The warning for output without the device table: empty output (the tool failed silently) is told apart from other text. */
export function missingTableWarning(tool: string, output: string): string {
  return output.trim() === '' ? `${tool} printed nothing` : `${tool} output has no device table`;
}

/** The cells of a boxed row `| a | b |`, trimmed; null for borders (`+---+`, `|===|`) and lines outside the box. */
export function boxCells(line: string | undefined): string[] | null {
  const trimmed = line?.trim() ?? '';
  if (!trimmed.startsWith('|') || /^[|+][-=+|]*$/.test(trimmed)) return null;
  return trimmed
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** MiB per unit word, lower-cased: the tools print MB and mean MiB. */
const MIB_PER_UNIT = new Map<string, number>([
  ['b', 1 / 1024 ** 2],
  ['kb', 1 / 1024],
  ['kib', 1 / 1024],
  ['mb', 1],
  ['mib', 1],
  ['gb', 1024],
  ['gib', 1024],
  ['tb', 1024 ** 2],
  ['tib', 1024 ** 2],
]);

/** A size as the tools print it: a number, then its unit word if any (`662MiB`, `16 GiB`, `0`). */
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** `662MiB`, `48 GiB`, or a bare `0` in `unitIfBare`, in MiB; null for `N/A`, a cut-off value or an unknown unit. */
export function mebibytes(text: string | undefined, unitIfBare?: string): number | null {
  const [, number, unit] = SIZE.exec(text?.trim() ?? '') ?? [];
  const perUnit = MIB_PER_UNIT.get((unit || unitIfBare || '').toLowerCase());
  return number === undefined || perUnit === undefined ? null : Number(number) * perUnit;
}

/** A `used / total` pair however it is spaced; a side may be `N/A`, whose own `/` does not split it. */
const USED_AND_TOTAL = /^\s*(N\/A|[^/]*?)\s*\/\s*(N\/A|[^/]*?)\s*$/i;

/**
 * `0 MiB/ 23308 MiB`, `100MiB / 98304MiB`, `N/A / 98304MiB` or `0 / 32768 MB` as [used, total] in MiB: a side
 * printed without a unit takes the other side's, else `unitIfBare`.
 */
export function usedAndTotalMiB(text: string | undefined, unitIfBare?: string): [number | null, number | null] {
  const [, used, total] = USED_AND_TOTAL.exec(text ?? '') ?? [];
  if (used === undefined || total === undefined) return [null, null];
  const unitOf = (side: string) => SIZE.exec(side)?.[2] || unitIfBare;
  return [mebibytes(used, unitOf(total)), mebibytes(total, unitOf(used))];
}

/** A boxed table split into the cells between `|`: its header rows, then the rows of each device. */
interface BoxTable {
  header: string[][];
  devices: string[][][];
}

/** Where a header word's value sits in a device's rows: row, cell, and place among the cell's words. */
interface HeaderWord {
  row: number;
  cell: number;
  word: number;
  words: number;
}

/** The rule between two devices' rows (`+-----+----+`). */
const DEVICE_RULE = /^[+|][-=+]+[+|]$/;

/** A whole boxed row: a line cut off before its closing `|` is not one. */
const wholeRowCells = (line: string) => (line.endsWith('|') ? boxCells(line) : null);

/**
 * The first table whose header (the rows above a `|===|` rule) has all `headerWords`. A device's rows lie between
 * `+---+` rules; the table ends at the first other line (a blank line, the process table, a cut-off line), and a row
 * is only a device row if it has as many cells as the header, so misaligned padding inside a cell does not matter.
 */
function readBoxTable(output: string, headerWords: string[]): BoxTable | null {
  const lines = output.split(/\r?\n/).map((line) => line.trim());
  for (let at = 0; at < lines.length; at++) {
    if (!/^\|=[=+]*\|$/.test(lines[at])) continue;
    const header: string[][] = [];
    for (let row = at - 1; row >= 0; row--) {
      const cells = wholeRowCells(lines[row]);
      if (!cells) break;
      header.unshift(cells);
    }
    const words = header.flat().join(' ').split(/\s+/);
    if (!headerWords.every((word) => words.includes(word))) continue;
    const width = header[header.length - 1].length;
    const devices: string[][][] = [];
    let device: string[][] = [];
    for (const line of lines.slice(at + 1)) {
      const cells = wholeRowCells(line);
      if (DEVICE_RULE.test(line)) {
        if (device.length > 0) devices.push(device);
        device = [];
      } else if (cells?.length === width) {
        device.push(cells);
      } else {
        break;
      }
    }
    if (device.length > 0) devices.push(device);
    return { header, devices };
  }
  return null;
}

function findHeaderWord(header: string[][], word: string): HeaderWord | null {
  for (const [row, cells] of header.entries()) {
    for (const [cell, text] of cells.entries()) {
      const words = text.split(/\s+/);
      if (words.includes(word)) return { row, cell, word: words.indexOf(word), words: words.length };
    }
  }
  return null;
}

/**
 * The value under a header word: its one token, or with `multiword` (names, `30 W/ 150 W`) every token from it up to
 * those of the header words after it.
 */
function valueUnder(device: string[][], column: HeaderWord | null, multiword = false): string | undefined {
  const text = column ? device[column.row]?.[column.cell] : undefined;
  if (text === undefined || column === null) return undefined;
  const tokens = text.split(/\s+/);
  return multiword ? tokens.slice(column.word, tokens.length - (column.words - column.word - 1)).join(' ') : tokens[column.word];
}

/** A status word, or null for the tools' unknown markers (`N/A`, `-`). */
const knownWord = (text: string | undefined) => (text && !/^(n\/a|-+)$/i.test(text) ? text : null);

const BOXED_TABLE_FIELDS = ['index', 'name', 'utilization', 'temperature', 'power', 'memory'] as const;

/** How one vendor's nvidia-smi-like boxed table names things. */
export interface BoxedTableLayout {
  tool: string;
  vendor: AcceleratorVendor;
  /** What the tool calls a device, for warnings: `card`, `GPU`. */
  device: string;
  /**
   * The header word over each value; where versions differ, the alternatives, the first found first. The table is
   * the first whose header has the first index, name and memory words.
   */
  columns: Record<(typeof BOXED_TABLE_FIELDS)[number], string | string[]>;
  /** The header word of a status column reported as the health, for tools that have one; no warning when it is missing. */
  health?: string;
}

/**
 * Reads the device table of an nvidia-smi-like tool (cnmon, ixsmi, mx-smi): each device is one or more boxed rows
 * between `+---+` rules, and a value is found by the position of its header word. The process table below never
 * yields cards. Memory is `used/ total` with units, power `usage/ cap`.
 */
export function parseBoxedDeviceTable(output: string, layout: BoxedTableLayout): ParsedAccelerators {
  const { tool, device: noun } = layout;
  return readCardsNeverThrowing(tool, (cards, warnings) => {
    const wordsOf = (field: (typeof BOXED_TABLE_FIELDS)[number]) => [layout.columns[field]].flat();
    const table = readBoxTable(output, [wordsOf('index')[0], wordsOf('name')[0], wordsOf('memory')[0]]);
    if (!table) {
      warnings.push(`${tool} printed no device table`);
      return;
    }
    const [index, name, utilization, temperature, power, memory] = BOXED_TABLE_FIELDS.map((field) => {
      const found = wordsOf(field).reduce<HeaderWord | null>((column, word) => column ?? findHeaderWord(table.header, word), null);
      if (!found) warnings.push(`${tool}'s table has no ${wordsOf(field).join(' or ')} column`);
      return found;
    });
    const health = layout.health === undefined ? null : findHeaderWord(table.header, layout.health);
    for (const device of table.devices) {
      const number = numberOrNull(valueUnder(device, index));
      if (number === null || !Number.isInteger(number)) {
        warnings.push(`${tool}: skipped a ${noun} without a ${noun} number: ${device[0].join(' | ')}`);
        continue;
      }
      if (device.length < table.header.length) warnings.push(`${tool}: the rows of ${noun} ${number} are cut off`);
      const [used, total] = usedAndTotalMiB(valueUnder(device, memory, true), 'MiB');
      cards.push({
        ...blankCard(layout.vendor, number, valueUnder(device, name, true) ?? ''),
        utilization: numberOrNull(valueUnder(device, utilization)),
        memory_used: used,
        memory_total: total,
        memory_usage: usagePercent(used, total),
        temperature: numberOrNull(valueUnder(device, temperature)),
        power_draw: numberOrNull(valueUnder(device, power, true)?.split('/')[0]),
        health: knownWord(valueUnder(device, health, true)),
      });
    }
    if (table.devices.length === 0) warnings.push(`${tool}'s device table lists no ${noun}s`);
  });
}
