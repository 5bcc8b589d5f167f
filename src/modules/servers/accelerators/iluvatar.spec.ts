import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { ILUVATAR_IXSMI, parseIxsmi } from './iluvatar';

/** An idle BI-V150 die as ixsmi shows it: 0%, 116 of 32768 MiB, no health word; power null where it prints `N/A / N/A`. */
const idleBiV150 = (index: number, temperature: number, power_draw: number | null): AcceleratorMetrics => ({
  index,
  vendor: 'iluvatar',
  name: 'Iluvatar BI-V150',
  utilization: 0,
  memory_used: 116,
  memory_total: 32768,
  memory_usage: 0.4,
  temperature,
  power_draw,
  health: null,
});

describe('parseIxsmi', () => {
  it('is what the probe runs for ixsmi: the default table', () => {
    expect(ILUVATAR_IXSMI).toEqual({ vendor: 'iluvatar', tool: 'ixsmi', command: 'ixsmi', parse: parseIxsmi });
  });

  it('has a case below for every ixsmi sample', () => {
    expect(samplesNamed('iluvatar-ixsmi-')).toEqual(['iluvatar-ixsmi-1.txt', 'iluvatar-ixsmi-2.txt']);
  });

  it('reads 16 BI-V150 dies (IX-ML 4.1.0), every other one without power', () => {
    // [temperature, power] of GPUs 0..15 as printed.
    const printed: [number, number | null][] = [
      [32, null],
      [30, 93],
      [31, null],
      [31, 94],
      [30, null],
      [31, 98],
      [31, null],
      [31, 95],
      [32, null],
      [32, 95],
      [31, null],
      [31, 94],
      [30, null],
      [32, 93],
      [30, null],
      [30, 94],
    ];
    const parsed = parseIxsmi(sample('iluvatar-ixsmi-1.txt'));
    expect(parsed.warnings).toEqual([]);
    expect(parsed.cards).toEqual(printed.map(([temperature, power], index) => idleBiV150(index, temperature, power)));
  });

  it('reads both dies of an MR-V100 DUO (IX-ML 4.4.0) with Fan N/A', () => {
    expect(parseIxsmi(sample('iluvatar-ixsmi-2.txt'))).toEqual({
      cards: [
        {
          index: 0,
          vendor: 'iluvatar',
          name: 'Iluvatar MR-V100 DUO',
          utilization: 0,
          memory_used: 68,
          memory_total: 32768,
          memory_usage: 0.2,
          temperature: 37,
          power_draw: null,
          health: null,
        },
        {
          index: 1,
          vendor: 'iluvatar',
          name: 'Iluvatar MR-V100 DUO',
          utilization: 0,
          memory_used: 68,
          memory_total: 32768,
          memory_usage: 0.2,
          temperature: 36,
          power_draw: 40,
          health: null,
        },
      ],
      warnings: [],
    });
  });

  it('reads GPU-Util from the second row, where ixsmi puts it', () => {
    const busy = sample('iluvatar-ixsmi-2.txt').replace('| 0%        Default    |\n+', '| 87%       Default    |\n+');
    expect(parseIxsmi(busy).cards.map((card) => card.utilization)).toEqual([87, 0]);
  });

  it('reads the same GPUs from output with CRLF line ends', () => {
    expect(parseIxsmi(sample('iluvatar-ixsmi-2.txt').replace(/\n/g, '\r\n'))).toEqual(parseIxsmi(sample('iluvatar-ixsmi-2.txt')));
  });

  it('makes no GPUs of the process table alone', () => {
    const processTable = sample('iluvatar-ixsmi-2.txt').split('\n').slice(14).join('\n');
    expect(processTable).toContain('Processes:');
    expect(parseIxsmi(processTable)).toEqual({ cards: [], warnings: ['ixsmi printed no device table'] });
  });

  describe('on output it cannot fully read, gives what it can and a warning', () => {
    it.each([
      ['empty output', ''],
      ['an error message', 'ixsmi: error while loading shared libraries: libixml.so: cannot open shared object file\n'],
      ['garbage', '|===|\n+--+\n| | |\n\u0000\u00ff'],
    ])('%s', (_, output) => {
      expect(parseIxsmi(output)).toEqual({ cards: [], warnings: ['ixsmi printed no device table'] });
    });

    it('something that is not text at all', () => {
      const parsed = parseIxsmi(undefined as unknown as string);
      expect(parsed.cards).toEqual([]);
      expect(parsed.warnings).toEqual([expect.stringMatching(/^ixsmi output could not be read: /)]);
    });

    it('a header-only table', () => {
      const headerOnly = sample('iluvatar-ixsmi-1.txt').split('\n').slice(0, 7).join('\n');
      expect(headerOnly.endsWith('|===============================+======================+======================|')).toBe(true);
      expect(parseIxsmi(headerOnly)).toEqual({ cards: [], warnings: ["ixsmi's device table lists no GPUs"] });
    });

    it('a table cut off inside a GPU', () => {
      const lines = sample('iluvatar-ixsmi-1.txt').split('\n');
      const cutOff = [...lines.slice(0, 11), lines[11].slice(0, 25)].join('\n');
      expect(parseIxsmi(cutOff)).toEqual({
        cards: [
          idleBiV150(0, 32, null),
          // Only the first row of GPU 1 (number, name, clocks) made it.
          blankCard('iluvatar', 1, 'Iluvatar BI-V150'),
        ],
        warnings: ['ixsmi: the rows of GPU 1 are cut off'],
      });
    });

    it('a layout without a column it needs', () => {
      const parsed = parseIxsmi(sample('iluvatar-ixsmi-2.txt').replace('GPU-Util', 'Util'));
      expect(parsed.cards.map((card) => [card.index, card.utilization, card.temperature])).toEqual([
        [0, null, 37],
        [1, null, 36],
      ]);
      expect(parsed.warnings).toEqual(["ixsmi's table has no GPU-Util column"]);
    });
  });
});
