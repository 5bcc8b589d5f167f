import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { ENFLAME_EFSMI } from './enflame';

const parse = (output: string) => ENFLAME_EFSMI.parse(output);

/** A card as efsmi's table shows it: Mem is the total only, and there is no health word. */
const card = (fields: Pick<AcceleratorMetrics, 'index' | 'name'> & Partial<AcceleratorMetrics>): AcceleratorMetrics => ({
  ...blankCard('enflame', fields.index, fields.name),
  ...fields,
});

describe('ENFLAME_EFSMI', () => {
  it('runs the default table, which names the devices, rather than the dmon monitor', () => {
    expect(ENFLAME_EFSMI).toMatchObject({ vendor: 'enflame', tool: 'efsmi', command: 'efsmi' });
  });

  it('has a test below for every efsmi sample', () => {
    expect(samplesNamed('enflame-efsmi-')).toEqual(['enflame-efsmi-1.txt', 'enflame-efsmi-2.txt', 'enflame-efsmi-3.txt', 'enflame-efsmi-dmon-1.txt']);
  });

  it('reads 2x S60 from the 1.2 layout ("39 C", Dpm, power usage and cap without a slash)', () => {
    expect(parse(sample('enflame-efsmi-1.txt'))).toEqual({
      cards: [
        card({ index: 0, name: 'S60', utilization: 0, memory_total: 49120, temperature: 39, power_draw: 105 }),
        card({ index: 1, name: 'S60', utilization: 0, memory_total: 42976, temperature: 46, power_draw: 128 }),
      ],
      warnings: [],
    });
  });

  it('reads 1x Enflame L300 from the 1.7 layout ("35℃", Lpm, "68W / 300W")', () => {
    expect(parse(sample('enflame-efsmi-2.txt'))).toEqual({
      cards: [card({ index: 0, name: 'Enflame L300', utilization: 0, memory_total: 147456, temperature: 35, power_draw: 68 })],
      warnings: [],
    });
  });

  it('reads 2x Enflame S60G in SR-IOV mode, where power is N/A', () => {
    expect(parse(sample('enflame-efsmi-3.txt'))).toEqual({
      cards: [0, 1].map((index) => card({ index, name: 'Enflame S60G', utilization: 0, memory_total: 23552, temperature: 34 })),
      warnings: [],
    });
  });

  it('does not read the dmon format, which the probe does not run', () => {
    expect(parse(sample('enflame-efsmi-dmon-1.txt'))).toEqual({ cards: [], warnings: ['efsmi output has no device table'] });
  });

  it('reads a fractional utilization and converts GiB', () => {
    const output = sample('enflame-efsmi-2.txt').replace('147456MiB Disable | 0%  ', '144GiB    Disable | 37.5%');
    expect(parse(output).cards).toEqual([
      card({ index: 0, name: 'Enflame L300', utilization: 37.5, memory_total: 147456, temperature: 35, power_draw: 68 }),
    ]);
  });

  describe('malformed output: no exception, the cards it can read and a warning', () => {
    it.each([
      ['empty output', '', 'efsmi printed nothing'],
      ['garbage', 'efsmi: no GCU found\n| DEV |\n\x00\xff', 'efsmi output has no device table'],
      ['another tool', sample('kunlunxin-xpu-smi-2.txt'), 'efsmi output has no device table'],
    ])('%s', (_case, output, warning) => {
      expect(parse(output)).toEqual({ cards: [], warnings: [warning] });
    });

    it('a header-only table', () => {
      const headerOnly = sample('enflame-efsmi-3.txt').split('\n').slice(0, 11).join('\n');
      expect(parse(headerOnly)).toEqual({ cards: [], warnings: ['efsmi listed no devices'] });
    });

    it('a header with unknown columns', () => {
      const output = sample('enflame-efsmi-2.txt').replace('DUsed       SN', 'Usage       SN');
      expect(parse(output)).toEqual({
        cards: [],
        warnings: ['efsmi device table has unknown columns: TEMP   Lpm   Pwr(Usage/Cap) | Mem      GCU Virt | Usage       SN'],
      });
    });

    it('a table cut inside the second device', () => {
      const lines = sample('enflame-efsmi-1.txt').split('\n');
      const cut = lines.findIndex((line) => line.startsWith('| 46 C'));
      const { cards, warnings } = parse([...lines.slice(0, cut), lines[cut].slice(0, 20)].join('\n'));
      expect(cards).toEqual([
        card({ index: 0, name: 'S60', utilization: 0, memory_total: 49120, temperature: 39, power_draw: 105 }),
        card({ index: 1, name: 'S60' }),
      ]);
      expect(warnings).toEqual(['efsmi output stops before the metrics row of device 1']);
    });

    it('a value that is not text at all', () => {
      const { cards, warnings } = parse(undefined as unknown as string);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringMatching(/^efsmi output could not be read: /)]);
    });
  });
});
