/** Renders rows as a plain-text table; the first column is left-aligned, the others right-aligned. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const pad = (cell: string, column: number) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]));
  const line = (cells: string[]) => cells.map(pad).join(' | ');
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('-+-'), ...rows.map(line)].join('\n');
}
