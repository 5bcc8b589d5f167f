import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { NVIDIA_SMI } from './nvidia';

const parse = (name: string) => NVIDIA_SMI.parse(sample(name));
const nvidia = (index: number, name: string, fields: Partial<AcceleratorMetrics>) => ({ ...blankCard('nvidia', index, name), ...fields });

describe('NVIDIA_SMI', () => {
  it('asks for the metrics with a header line, so the parser finds every column by name', () => {
    expect(NVIDIA_SMI.command).toBe(
      'nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw --format=csv,nounits',
    );
    expect(NVIDIA_SMI.tool).toBe('nvidia-smi');
  });

  it('reads the H100 among the ~210 columns of a full query, units and [Requested functionality has been deprecated] cells included (csv-5)', () => {
    expect(parse('nvidia-nvidia-smi-csv-5.txt')).toEqual({
      cards: [
        nvidia(0, 'NVIDIA H100 80GB HBM3', {
          utilization: 100,
          memory_used: 19818,
          memory_total: 81559,
          memory_usage: 24.3,
          temperature: 59,
          power_draw: 631.95,
        }),
      ],
      warnings: [],
    });
  });

  it('numbers rows in order without an index column and leaves out what the query did not ask for (csv-1, Tesla P100 with nounits)', () => {
    expect(parse('nvidia-nvidia-smi-csv-1.txt')).toEqual({
      cards: [nvidia(0, 'Tesla P100-PCIE-16GB', { utilization: 0, memory_used: 0, temperature: 37, power_draw: 28.16 })],
      warnings: ['nvidia-smi csv has no column for index, memory.total'],
    });
  });

  it('gives null memory for the [N/A] cells of a GB10 and reads "0 %" and "11.17 W" (csv-3)', () => {
    expect(parse('nvidia-nvidia-smi-csv-3.txt')).toEqual({
      cards: [nvidia(0, 'NVIDIA GPU', { utilization: 0, temperature: 35, power_draw: 11.17 })],
      warnings: ['nvidia-smi csv has no column for index, name'],
    });
  });

  it('reads "682 MiB" style cells in any column order (csv-4, GeForce RTX 2060 without power.draw)', () => {
    expect(parse('nvidia-nvidia-smi-csv-4.txt')).toEqual({
      cards: [nvidia(0, 'GeForce RTX 2060', { utilization: 20, memory_used: 682, memory_total: 5934, memory_usage: 11.5, temperature: 36 })],
      warnings: ['nvidia-smi csv has no column for index, power.draw'],
    });
  });

  it('refuses a noheader csv, whose columns cannot be named (csv-2)', () => {
    const { cards, warnings } = parse('nvidia-nvidia-smi-csv-2.txt');
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('no csv header line')]);
  });

  it('reads several GPUs by their printed index, whatever the column order, with CRLF line ends', () => {
    const output = [
      'name, index, memory.total [MiB], memory.used [MiB], utilization.gpu [%], temperature.gpu, power.draw [W]',
      'NVIDIA RTX A6000, 3, 46068, 1, 0, 29, 28.41',
      'NVIDIA GB10, 7, [N/A], [N/A], 96, 61, [Not Supported]',
    ].join('\r\n');
    expect(NVIDIA_SMI.parse(output)).toEqual({
      cards: [
        nvidia(3, 'NVIDIA RTX A6000', { utilization: 0, memory_used: 1, memory_total: 46068, memory_usage: 0, temperature: 29, power_draw: 28.41 }),
        nvidia(7, 'NVIDIA GB10', { utilization: 96, temperature: 61 }),
      ],
      warnings: [],
    });
  });

  // The probe runs the csv query; the default table is not its format.
  it.each(samplesNamed('nvidia-nvidia-smi-').filter((name) => !name.includes('-csv-')))('gives no cards and a warning for the table %s', (name) => {
    const { cards, warnings } = parse(name);
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('no csv header line')]);
  });

  describe('malformed output', () => {
    const header = 'index, name, utilization.gpu [%], memory.used [MiB], memory.total [MiB], temperature.gpu, power.draw [W]';

    it.each([
      ['empty', '', 'nvidia-smi printed nothing'],
      ['blank lines', '\n  \n', 'nvidia-smi printed nothing'],
      ['garbage', 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.', 'no csv header line'],
      ['binary noise', '\u0000\u00ff{[,,,', 'no csv header line'],
      ['header only', header, 'nvidia-smi listed no GPUs'],
    ])('%s gives no cards and a warning', (_, output, warning) => {
      const { cards, warnings } = NVIDIA_SMI.parse(output);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining(warning)]);
    });

    it('keeps the complete rows of a truncated output and warns about the cut one', () => {
      const { cards, warnings } = NVIDIA_SMI.parse(`${header}\n0, NVIDIA H100 80GB HBM3, 5, 1, 81559, 30, 100.5\n1, NVIDIA H100 80GB HBM3, 7, 1`);
      expect(cards.map((card) => [card.index, card.power_draw])).toEqual([[0, 100.5]]);
      expect(warnings).toEqual(['nvidia-smi csv row 2 has 4 fields, the header 7: 1, NVIDIA H100 80GB HBM3, 7, 1']);
    });

    it('skips a row whose index is not a number', () => {
      const { cards, warnings } = NVIDIA_SMI.parse(`${header}\n[N/A], NVIDIA H100 80GB HBM3, 5, 1, 81559, 30, 100.5`);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining('row 1 has no GPU index'), 'nvidia-smi listed no GPUs']);
    });
  });
});
