import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { KUNLUNXIN_XPU_SMI, KUNLUNXIN_XPU_SMI_LEGACY } from './kunlunxin';

const parse = (output: string) => KUNLUNXIN_XPU_SMI.parse(output);

/** A card as xpu-smi's tables show it: neither layout prints a health word. */
const card = (fields: Pick<AcceleratorMetrics, 'index' | 'name'> & Partial<AcceleratorMetrics>): AcceleratorMetrics => ({
  ...blankCard('kunlunxin', fields.index, fields.name),
  ...fields,
});

describe('KUNLUNXIN_XPU_SMI', () => {
  it('runs the default table, the only format with real samples', () => {
    expect(KUNLUNXIN_XPU_SMI).toMatchObject({ vendor: 'kunlunxin', tool: 'xpu-smi', command: 'xpu-smi' });
  });

  it('has a test below for every xpu-smi sample', () => {
    expect(samplesNamed('kunlunxin-xpu-smi-')).toEqual(['kunlunxin-xpu-smi-1.txt', 'kunlunxin-xpu-smi-2.txt']);
  });

  it('reads 2x R300 from the old DEVICES table (MB, no temperature or power), not from the VIDEO table', () => {
    expect(parse(sample('kunlunxin-xpu-smi-1.txt'))).toEqual({
      cards: [0, 1].map((index) => card({ index, name: 'R300', utilization: 0, memory_used: 0, memory_total: 32768, memory_usage: 0 })),
      warnings: [],
    });
  });

  it('reads the old binary xpu_smi like xpu-smi', () => {
    expect(KUNLUNXIN_XPU_SMI_LEGACY.parse(sample('kunlunxin-xpu-smi-1.txt'))).toEqual(parse(sample('kunlunxin-xpu-smi-1.txt')));
  });

  it('reads 8x P800 OAM from the nvidia-smi-like layout, HBM rather than L3', () => {
    const temperatures = [43, 37, 38, 39, 41, 36, 41, 40];
    const powers = [98, 86, 85, 86, 85, 87, 87, 84];
    expect(parse(sample('kunlunxin-xpu-smi-2.txt'))).toEqual({
      cards: temperatures.map((temperature, index) =>
        card({
          index,
          name: 'P800 OAM',
          utilization: 0,
          memory_used: 100,
          memory_total: 98304,
          memory_usage: 0.1,
          temperature,
          power_draw: powers[index],
        }),
      ),
      warnings: [],
    });
  });

  it('makes no cards of process rows in either layout', () => {
    const oldLayout = sample('kunlunxin-xpu-smi-1.txt').replace(
      /(\| DevID \| PID \|.*\n-+\n)/,
      '$1|     0 | 4242 |       1 |  0 |   1024 | python  |\n',
    );
    const newLayout = sample('kunlunxin-xpu-smi-2.txt').replace(
      /(\|=+\|\n)(\+-+\+\n)$/,
      '$1|    0   N/A  N/A      4242      C   python                         1024MiB |\n$2',
    );
    expect(oldLayout).toContain('4242');
    expect(newLayout).toContain('4242');
    expect(parse(oldLayout).cards).toHaveLength(2);
    expect(parse(newLayout).cards).toHaveLength(8);
  });

  it('reads N/A cells as unknown and converts GiB', () => {
    const output = sample('kunlunxin-xpu-smi-2.txt')
      .replace(
        '| N/A   43C  N/A     98W / 400W |    100MiB / 98304MiB |      0%      Default |',
        '| N/A   N/A  N/A    N/A / 400W |      N/A / 96GiB     |     N/A      Default |',
      )
      .replace('|   1  P800 OAM           N/A   |', '|   1  P800 OAM           Off   |');
    expect(parse(output).cards.slice(0, 2)).toEqual([
      card({ index: 0, name: 'P800 OAM', memory_total: 98304 }),
      card({ index: 1, name: 'P800 OAM', utilization: 0, memory_used: 100, memory_total: 98304, memory_usage: 0.1, temperature: 37, power_draw: 86 }),
    ]);
  });

  describe('malformed output: no exception, the cards it can read and a warning', () => {
    it.each([
      ['empty output', '', 'xpu-smi printed nothing'],
      ['garbage', 'xpu-smi: error while loading shared libraries\n| DevID |\n\x00\xff', 'xpu-smi output has no device table'],
      ['another tool', sample('moorethreads-mthreads-gmi-1.txt'), 'xpu-smi output has no device table'],
    ])('%s', (_case, output, warning) => {
      expect(parse(output)).toEqual({ cards: [], warnings: [warning] });
    });

    it.each([
      ['old', 'kunlunxin-xpu-smi-1.txt', 6],
      ['new', 'kunlunxin-xpu-smi-2.txt', 7],
    ])('a header-only %s table', (_layout, name, headerLines) => {
      const headerOnly = sample(name).split('\n').slice(0, headerLines).join('\n');
      expect(parse(headerOnly)).toEqual({ cards: [], warnings: ['xpu-smi listed no devices'] });
    });

    it('an old table cut inside the second row', () => {
      const cut = sample('kunlunxin-xpu-smi-1.txt').split('\n').slice(0, 7).join('\n') + '\n|     1 | 0000:56:00.0 | R300  | 02K';
      expect(parse(cut)).toEqual({
        cards: [card({ index: 0, name: 'R300', utilization: 0, memory_used: 0, memory_total: 32768, memory_usage: 0 })],
        warnings: ['xpu-smi device row could not be read: |     1 | 0000:56:00.0 | R300  | 02K'],
      });
    });

    it('a new table cut between the rows of the third XPU', () => {
      const lines = sample('kunlunxin-xpu-smi-2.txt').split('\n');
      const cut = lines.findIndex((line) => line.startsWith('|   2  P800 OAM'));
      const { cards, warnings } = parse(lines.slice(0, cut + 1).join('\n'));
      expect(cards.map(({ index, temperature, power_draw }) => ({ index, temperature, power_draw }))).toEqual([
        { index: 0, temperature: 43, power_draw: 98 },
        { index: 1, temperature: 37, power_draw: 86 },
        { index: 2, temperature: null, power_draw: null },
      ]);
      expect(warnings).toEqual(['xpu-smi output stops before the metrics row of XPU 2']);
    });

    it('a value that is not text at all', () => {
      const { cards, warnings } = parse(undefined as unknown as string);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringMatching(/^xpu-smi output could not be read: /)]);
    });
  });
});
