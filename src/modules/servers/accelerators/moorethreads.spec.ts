import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { MOORETHREADS_GMI } from './moorethreads';

const parse = (output: string) => MOORETHREADS_GMI.parse(output);

/** A card as mthreads-gmi's table shows it: it has no power column and no health word. */
const card = (fields: Pick<AcceleratorMetrics, 'index' | 'name'> & Partial<AcceleratorMetrics>): AcceleratorMetrics => ({
  ...blankCard('moorethreads', fields.index, fields.name),
  ...fields,
});

describe('MOORETHREADS_GMI', () => {
  it('runs the default table, the only format with real samples', () => {
    expect(MOORETHREADS_GMI).toMatchObject({ vendor: 'moorethreads', tool: 'mthreads-gmi', command: 'mthreads-gmi' });
  });

  it('has a test below for every mthreads-gmi sample', () => {
    expect(samplesNamed('moorethreads-mthreads-gmi-')).toEqual([
      'moorethreads-mthreads-gmi-1.txt',
      'moorethreads-mthreads-gmi-2.txt',
      'moorethreads-mthreads-gmi-3.txt',
      'moorethreads-mthreads-gmi-4.txt',
    ]);
  });

  it('reads 8x MTT S5000 from the 2.4.1 layout with the Perf column', () => {
    const temperatures = [48, 48, 49, 48, 48, 50, 48, 49];
    expect(parse(sample('moorethreads-mthreads-gmi-1.txt'))).toEqual({
      cards: temperatures.map((temperature, index) =>
        card({ index, name: 'MTT S5000', utilization: 0, memory_used: 0, memory_total: 81920, memory_usage: 0, temperature }),
      ),
      warnings: [],
    });
  });

  it('reads 1x MTT S80 from the 1.14.0 layout with trailing spaces', () => {
    expect(parse(sample('moorethreads-mthreads-gmi-2.txt'))).toEqual({
      cards: [card({ index: 0, name: 'MTT S80', utilization: 0, memory_used: 2, memory_total: 16384, memory_usage: 0, temperature: 49 })],
      warnings: [],
    });
  });

  it('reads 1x MTT S80 and makes no cards of the two processes below it', () => {
    expect(parse(sample('moorethreads-mthreads-gmi-3.txt'))).toEqual({
      cards: [card({ index: 0, name: 'MTT S80', utilization: 0, memory_used: 662, memory_total: 16384, memory_usage: 4, temperature: 41 })],
      warnings: [],
    });
  });

  it('reports memory used beyond the total as printed (the IOMMU fault in the sample), without the closing rule', () => {
    expect(parse(sample('moorethreads-mthreads-gmi-4.txt'))).toEqual({
      cards: [card({ index: 0, name: 'MTT S4000', utilization: 88, memory_used: 44302, memory_total: 32768, memory_usage: 135.2, temperature: 65 })],
      warnings: [],
    });
  });

  it('reads N/A cells as unknown and converts GiB', () => {
    const output = sample('moorethreads-mthreads-gmi-2.txt').replace('0%    2MiB(16384MiB)', 'N/A   N/A(16GiB)').replace('49C', 'N/A');
    expect(parse(output).cards).toEqual([card({ index: 0, name: 'MTT S80', memory_total: 16384 })]);
  });

  describe('malformed output: no exception, the cards it can read and a warning', () => {
    it.each([
      ['empty output', '', 'mthreads-gmi printed nothing'],
      ['garbage', 'mthreads-gmi: command failed\n\x00\xff|||\n', 'mthreads-gmi output has no device table'],
      ['another tool', sample('kunlunxin-xpu-smi-2.txt'), 'mthreads-gmi output has no device table'],
    ])('%s', (_case, output, warning) => {
      expect(parse(output)).toEqual({ cards: [], warnings: [warning] });
    });

    it('a header-only table', () => {
      const headerOnly = sample('moorethreads-mthreads-gmi-1.txt').split('\n').slice(0, 8).join('\n');
      expect(parse(headerOnly)).toEqual({ cards: [], warnings: ['mthreads-gmi listed no devices'] });
    });

    it('a table cut inside the fourth device', () => {
      const lines = sample('moorethreads-mthreads-gmi-1.txt').split('\n');
      const cut = lines.findIndex((line) => line.startsWith('3    MTT S5000'));
      const { cards, warnings } = parse([...lines.slice(0, cut), lines[cut].slice(0, 55)].join('\n'));
      expect(cards.map(({ index, temperature, memory_used }) => ({ index, temperature, memory_used }))).toEqual([
        { index: 0, temperature: 48, memory_used: 0 },
        { index: 1, temperature: 48, memory_used: 0 },
        { index: 2, temperature: 49, memory_used: 0 },
        { index: 3, temperature: null, memory_used: null },
      ]);
      expect(warnings).toEqual(['mthreads-gmi output stops before the temperature row of device 3']);
    });

    it('a value that is not text at all', () => {
      const { cards, warnings } = parse(undefined as unknown as string);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringMatching(/^mthreads-gmi output could not be read: /)]);
    });
  });
});
