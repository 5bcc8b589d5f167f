import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { METAX_MX_SMI, parseMxSmi } from './metax';

/** An idle MXC550 of mx-smi 2.1.6: 0%, 810 of 65536 MiB, no GPU-State. */
const idleMxc550 = (index: number, temperature: number, power_draw: number): AcceleratorMetrics => ({
  index,
  vendor: 'metax',
  name: 'MXC550',
  utilization: 0,
  memory_used: 810,
  memory_total: 65536,
  memory_usage: 1.2,
  temperature,
  power_draw,
  health: null,
});

/** An idle MetaX C550 of mx-smi 2.2.4: 0%, 858 of 65536 MiB, Available. */
const idleC550 = (index: number, temperature: number, power_draw: number): AcceleratorMetrics => ({
  index,
  vendor: 'metax',
  name: 'MetaX C550',
  utilization: 0,
  memory_used: 858,
  memory_total: 65536,
  memory_usage: 1.3,
  temperature,
  power_draw,
  health: 'Available',
});

describe('parseMxSmi', () => {
  it('is what the probe runs for mx-smi: the default table', () => {
    expect(METAX_MX_SMI).toEqual({ vendor: 'metax', tool: 'mx-smi', command: 'mx-smi', parse: parseMxSmi });
  });

  it('has a case below for every mx-smi sample', () => {
    expect(samplesNamed('metax-mx-smi-')).toEqual(['metax-mx-smi-1.txt', 'metax-mx-smi-2.txt', 'metax-mx-smi-3.txt']);
  });

  it('reads 8 MXC550 from mx-smi 2.1.6, whose "Power" column has no cap and which has no GPU-State', () => {
    const printed: [number, number][] = [
      [31, 44],
      [31, 46],
      [31, 47],
      [31, 46],
      [30, 46],
      [31, 47],
      [30, 46],
      [30, 47],
    ];
    const parsed = parseMxSmi(sample('metax-mx-smi-1.txt'));
    expect(parsed.warnings).toEqual([]);
    expect(parsed.cards).toEqual(printed.map(([temperature, power], index) => idleMxc550(index, temperature, power)));
  });

  it('reads a MetaX C500 from mx-smi 2.2.4 in a container, with its GPU-State as health', () => {
    expect(parseMxSmi(sample('metax-mx-smi-2.txt'))).toEqual({
      cards: [
        {
          index: 0,
          vendor: 'metax',
          name: 'MetaX C500',
          utilization: 0,
          memory_used: 858,
          memory_total: 65536,
          memory_usage: 1.3,
          temperature: 45,
          power_draw: 48,
          health: 'Available',
        },
      ],
      warnings: [],
    });
  });

  it('reads 8 MetaX C550 from mx-smi 2.2.4 with Pwr:Usage/Cap', () => {
    const printed: [number, number][] = [
      [29, 53],
      [29, 53],
      [30, 54],
      [29, 54],
      [30, 53],
      [32, 55],
      [32, 56],
      [31, 56],
    ];
    expect(parseMxSmi(sample('metax-mx-smi-3.txt'))).toEqual({
      cards: printed.map(([temperature, power], index) => idleC550(index, temperature, power)),
      warnings: [],
    });
  });

  it('reads GPU-Util and a GPU-State that is not Available', () => {
    const busy = sample('metax-mx-smi-2.txt').replace('| 0%                   |', '| 93%                  |').replace('Available  ', 'Unavailable');
    expect(parseMxSmi(busy).cards).toMatchObject([{ utilization: 93, health: 'Unavailable' }]);
  });

  it('reads the same GPUs from output with CRLF line ends', () => {
    expect(parseMxSmi(sample('metax-mx-smi-3.txt').replace(/\n/g, '\r\n'))).toEqual(parseMxSmi(sample('metax-mx-smi-3.txt')));
  });

  it('makes no GPUs of the process table alone', () => {
    const processTable = sample('metax-mx-smi-2.txt').split('\n').slice(16).join('\n');
    expect(processTable).toContain('Process:');
    expect(parseMxSmi(processTable)).toEqual({ cards: [], warnings: ['mx-smi printed no device table'] });
  });

  describe('on output it cannot fully read, gives what it can and a warning', () => {
    it.each([
      ['empty output', ''],
      ['an error message', 'mx-smi: failed to initialize MXSML\n'],
      ['garbage', '|===|\n+--+\n| | |\n\u0000\u00ff'],
    ])('%s', (_, output) => {
      expect(parseMxSmi(output)).toEqual({ cards: [], warnings: ['mx-smi printed no device table'] });
    });

    it('something that is not text at all', () => {
      const parsed = parseMxSmi(undefined as unknown as string);
      expect(parsed.cards).toEqual([]);
      expect(parsed.warnings).toEqual([expect.stringMatching(/^mx-smi output could not be read: /)]);
    });

    it('a header-only table', () => {
      const headerOnly = sample('metax-mx-smi-3.txt').split('\n').slice(0, 13).join('\n');
      expect(headerOnly.endsWith('|====================================+=====================+======================|')).toBe(true);
      expect(parseMxSmi(headerOnly)).toEqual({ cards: [], warnings: ["mx-smi's device table lists no GPUs"] });
    });

    it('a table cut off inside a GPU', () => {
      const lines = sample('metax-mx-smi-3.txt').split('\n');
      const cutOff = [...lines.slice(0, 17), lines[17].slice(0, 30)].join('\n');
      expect(parseMxSmi(cutOff)).toEqual({
        cards: [
          idleC550(0, 29, 53),
          // Only the first row of GPU 1 (number, name, util) made it.
          { ...blankCard('metax', 1, 'MetaX C550'), utilization: 0 },
        ],
        warnings: ['mx-smi: the rows of GPU 1 are cut off'],
      });
    });

    it('a layout without a column it needs', () => {
      const parsed = parseMxSmi(sample('metax-mx-smi-1.txt').replace('Power ', 'Watts '));
      expect(parsed.cards.map((card) => [card.index, card.power_draw, card.temperature])).toEqual(
        [31, 31, 31, 31, 30, 31, 30, 30].map((temperature, index) => [index, null, temperature]),
      );
      expect(parsed.warnings).toEqual(["mx-smi's table has no Pwr:Usage/Cap or Power column"]);
    });
  });
});
