import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, blankCard } from './accelerator-metrics';
import { CAMBRICON_CNMON, parseCnmon } from './cambricon';

/** An idle MLU as cnmon shows it: 0% util, no memory in use, no health word. */
const idleMlu = (index: number, name: string, memory_total: number, temperature: number, power_draw: number): AcceleratorMetrics => ({
  index,
  vendor: 'cambricon',
  name,
  utilization: 0,
  memory_used: 0,
  memory_total,
  memory_usage: 0,
  temperature,
  power_draw,
  health: null,
});

describe('parseCnmon', () => {
  it('is what the probe runs for cnmon: the default table', () => {
    expect(CAMBRICON_CNMON).toEqual({ vendor: 'cambricon', tool: 'cnmon', command: 'cnmon', parse: parseCnmon });
  });

  it('has a case below for every cnmon sample', () => {
    expect(samplesNamed('cambricon-cnmon-')).toEqual([
      'cambricon-cnmon-1.txt',
      'cambricon-cnmon-2.txt',
      'cambricon-cnmon-3.txt',
      'cambricon-cnmon-4.txt',
    ]);
  });

  it('reads the v4.20 "Inited Driver" / vMemory layout, not the vMemory column', () => {
    expect(parseCnmon(sample('cambricon-cnmon-1.txt'))).toEqual({
      cards: [idleMlu(0, 'MLU370-X4', 23308, 32, 30), idleMlu(1, 'MLU370-X4', 23308, 33, 25), idleMlu(2, 'MLU370-X4', 23308, 30, 26)],
      warnings: [],
    });
  });

  it('reads the v5.10 SR-IOV / Compute-Mode layout, with card 1 whose Ecc cell is misaligned', () => {
    expect(parseCnmon(sample('cambricon-cnmon-2.txt'))).toEqual({
      cards: [idleMlu(0, 'MLU370-X4', 23308, 41, 27), idleMlu(1, 'MLU370-X4', 23308, 41, 27)],
      warnings: [],
    });
  });

  it('reads the v5.10.13 layout whose process header says MI', () => {
    expect(parseCnmon(sample('cambricon-cnmon-3.txt'))).toEqual({
      cards: [idleMlu(0, 'MLU370-X8', 23374, 32, 106), idleMlu(1, 'MLU370-X8', 23374, 39, 106)],
      warnings: [],
    });
  });

  it('reads fractional watts and memory in use on an MLU220, though the output stops inside the process table', () => {
    expect(parseCnmon(sample('cambricon-cnmon-4.txt'))).toEqual({
      cards: [
        {
          index: 0,
          vendor: 'cambricon',
          name: 'MLU220-M2',
          utilization: 0,
          memory_used: 967,
          memory_total: 4096,
          memory_usage: 23.6,
          temperature: 51,
          power_draw: 3.7,
          health: null,
        },
      ],
      warnings: [],
    });
  });

  it('reads the same cards from output with CRLF line ends', () => {
    expect(parseCnmon(sample('cambricon-cnmon-2.txt').replace(/\n/g, '\r\n'))).toEqual(parseCnmon(sample('cambricon-cnmon-2.txt')));
  });

  it('makes no cards of the process table alone', () => {
    const processTable = sample('cambricon-cnmon-1.txt').split('\n').slice(17).join('\n');
    expect(processTable).toContain('Processes:');
    expect(parseCnmon(processTable)).toEqual({ cards: [], warnings: ['cnmon printed no device table'] });
  });

  describe('on output it cannot fully read, gives what it can and a warning', () => {
    it.each([
      ['empty output', ''],
      ['an error message', 'bash: cnmon: command not found\n'],
      ['garbage', '|===|\n+--+\n| | |\n\u0000\u00ff'],
    ])('%s', (_, output) => {
      expect(parseCnmon(output)).toEqual({ cards: [], warnings: ['cnmon printed no device table'] });
    });

    it('something that is not text at all', () => {
      const parsed = parseCnmon(undefined as unknown as string);
      expect(parsed.cards).toEqual([]);
      expect(parsed.warnings).toEqual([expect.stringMatching(/^cnmon output could not be read: /)]);
    });

    it('a header-only table', () => {
      const headerOnly = sample('cambricon-cnmon-2.txt').split('\n').slice(0, 7).join('\n');
      expect(headerOnly.endsWith('|===============================+======================+=======================|')).toBe(true);
      expect(parseCnmon(headerOnly)).toEqual({ cards: [], warnings: ["cnmon's device table lists no cards"] });
    });

    it('a table cut off inside a card', () => {
      const lines = sample('cambricon-cnmon-1.txt').split('\n');
      const cutOff = [...lines.slice(0, 11), lines[11].slice(0, 20)].join('\n');
      expect(parseCnmon(cutOff)).toEqual({
        cards: [
          idleMlu(0, 'MLU370-X4', 23308, 32, 30),
          // Only the first row of card 1 (number, name, util) made it.
          { ...blankCard('cambricon', 1, 'MLU370-X4'), utilization: 0 },
        ],
        warnings: ['cnmon: the rows of card 1 are cut off'],
      });
    });

    it('a card whose number is not a number', () => {
      const output = sample('cambricon-cnmon-2.txt').replace('| 1     /   MLU370-X4', '| x     /   MLU370-X4');
      const parsed = parseCnmon(output);
      expect(parsed.cards.map((card) => card.index)).toEqual([0]);
      expect(parsed.warnings).toEqual([expect.stringMatching(/^cnmon: skipped a card without a card number: x {5}\/ {3}MLU370-X4/)]);
    });

    it('a layout without a column it needs', () => {
      const output = sample('cambricon-cnmon-2.txt').replace('Pwr:Usage/Cap', 'Power:Use/Cap');
      const parsed = parseCnmon(output);
      expect(parsed.cards.map((card) => [card.index, card.power_draw, card.temperature])).toEqual([
        [0, null, 41],
        [1, null, 41],
      ]);
      expect(parsed.warnings).toEqual(["cnmon's table has no Pwr:Usage/Cap column"]);
    });
  });
});
