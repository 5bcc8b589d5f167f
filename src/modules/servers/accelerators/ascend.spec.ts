import { sample, samplesNamed } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics } from './accelerator-metrics';
import { ASCEND_NPU_SMI, parseNpuSmi } from './ascend';

type Chip = Omit<AcceleratorMetrics, 'vendor'>;
const huawei = (chips: Chip[]): AcceleratorMetrics[] => chips.map((chip) => ({ vendor: 'huawei', ...chip }));

/** Single-chip cards NPU 0..n-1 of one model, as 910-class tables print them: HBM used of 65536 or 32768 MB. */
function singleChipCards(
  name: string,
  hbmTotal: number,
  rows: [power: number, temperature: number, hbmUsed: number, usage: number][],
): AcceleratorMetrics[] {
  return huawei(
    rows.map(([power_draw, temperature, memory_used, memory_usage], npu) => ({
      index: npu,
      card_id: npu,
      chip_id: 0,
      name,
      health: 'OK',
      power_draw,
      temperature,
      utilization: 0,
      memory_used,
      memory_total: hbmTotal,
      memory_usage,
    })),
  );
}

describe('ASCEND_NPU_SMI', () => {
  it('runs the one npu-smi mode that lists every card and chip', () => {
    expect(ASCEND_NPU_SMI).toEqual({ vendor: 'huawei', tool: 'npu-smi', command: 'npu-smi info', parse: parseNpuSmi });
  });
});

describe('parseNpuSmi on real npu-smi info tables', () => {
  const tables = samplesNamed('huawei-npu-smi-').filter((name) => /^huawei-npu-smi-\d+\.txt$/.test(name));

  it('has a case below for every npu-smi info sample', () => {
    expect(tables.map((name) => Number(/\d+/.exec(name)![0])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it.each(tables)('reads %s without a warning', (name) => {
    expect(parseNpuSmi(sample(name)).warnings).toEqual([]);
  });

  it('reads 910B2C cards, reporting their HBM rather than the empty DDR column; the process row is no card (1)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-1.txt')).cards).toEqual(
      singleChipCards('910B2C', 65536, [
        [88.6, 51, 20701, 31.6],
        [99.6, 50, 20687, 31.6],
      ]),
    );
  });

  it('reads a 310B4 with DDR only, health Alarm and Bus-Id NA (2)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-2.txt')).cards).toEqual(
      huawei([
        {
          index: 0,
          card_id: 0,
          chip_id: 0,
          name: '310B4',
          health: 'Alarm',
          power_draw: 0,
          temperature: 65,
          utilization: 0,
          memory_used: 3628,
          memory_total: 15609,
          memory_usage: 23.2,
        },
      ]),
    );
  });

  it('reads each die of A3 cards (Chip Phy-ID) as one chip, with no power on the second die (3)', () => {
    const die = { name: 'Ascend910', health: 'OK', utilization: 0, memory_total: 65536 };
    expect(parseNpuSmi(sample('huawei-npu-smi-3.txt')).cards).toEqual(
      huawei([
        { ...die, index: 0, card_id: 0, chip_id: 0, power_draw: 162.8, temperature: 37, memory_used: 3133, memory_usage: 4.8 },
        { ...die, index: 1, card_id: 0, chip_id: 1, power_draw: null, temperature: 37, memory_used: 2876, memory_usage: 4.4 },
        { ...die, index: 2, card_id: 1, chip_id: 0, power_draw: 167.1, temperature: 38, memory_used: 3116, memory_usage: 4.8 },
        { ...die, index: 3, card_id: 1, chip_id: 1, power_draw: null, temperature: 38, memory_used: 10568, memory_usage: 16.1 },
      ]),
    );
  });

  it('reads a 310P3 with a large NPU id and power NA (4)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-4.txt')).cards).toEqual(
      huawei([
        {
          index: 0,
          card_id: 32896,
          chip_id: 0,
          name: '310P3',
          health: 'OK',
          power_draw: null,
          temperature: 54,
          utilization: 0,
          memory_used: 1904,
          memory_total: 44213,
          memory_usage: 4.3,
        },
      ]),
    );
  });

  it('reads the four chips of an Atlas 300 card (Chip Device) in the old layout closed by +=== (5)', () => {
    const chip = {
      card_id: 215,
      name: '310',
      health: 'OK',
      power_draw: 12.8,
      utilization: 0,
      memory_used: 2703,
      memory_total: 8192,
      memory_usage: 33,
    };
    expect(parseNpuSmi(sample('huawei-npu-smi-5.txt')).cards).toEqual(
      huawei([
        { ...chip, index: 0, chip_id: 0, temperature: 56 },
        { ...chip, index: 1, chip_id: 1, temperature: 57 },
        { ...chip, index: 2, chip_id: 2, temperature: 57 },
        { ...chip, index: 3, chip_id: 3, temperature: 55 },
      ]),
    );
  });

  it('takes the chip id, not the device id, and reads unevenly spaced Hugepages pairs (6)', () => {
    const chip = { card_id: 6, name: '310', health: 'OK', power_draw: 12.8, utilization: 0, memory_total: 8192 };
    expect(parseNpuSmi(sample('huawei-npu-smi-6.txt')).cards).toEqual(
      huawei([
        { ...chip, index: 0, chip_id: 0, temperature: 73, memory_used: 2703, memory_usage: 33 },
        { ...chip, index: 1, chip_id: 1, temperature: 74, memory_used: 2867, memory_usage: 35 },
        { ...chip, index: 2, chip_id: 2, temperature: 70, memory_used: 2867, memory_usage: 35 },
        { ...chip, index: 3, chip_id: 3, temperature: 65, memory_used: 2867, memory_usage: 35 },
      ]),
    );
  });

  it('reports the 32768 MB HBM of 910A cards even while none of it is used (7)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-7.txt')).cards).toEqual(
      singleChipCards('910A', 32768, [
        [67.2, 43, 0, 0],
        [63.3, 38, 0, 0],
        [64.8, 34, 0, 0],
        [191.7, 42, 0, 0],
        [66.4, 44, 0, 0],
        [62.7, 33, 0, 0],
        [64.5, 35, 0, 0],
        [191.4, 40, 0, 0],
      ]),
    );
  });

  it('keeps the Warning health and makes no cards of a long process table (8)', () => {
    const expected = singleChipCards('xxx', 32768, [
      [70.5, 42, 0, 0],
      [71.2, 36, 0, 0],
      [69.0, 35, 0, 0],
      [206.9, 39, 0, 0],
      [70.2, 39, 0, 0],
      [64.9, 37, 0, 0],
      [69.4, 40, 0, 0],
      [203.2, 42, 0, 0],
    ]);
    expected[3].health = 'Warning';
    expected[7].health = 'Warning';
    expect(parseNpuSmi(sample('huawei-npu-smi-8.txt')).cards).toEqual(expected);
  });

  it('reads eight 910B2 and ignores "No running processes found" rows (9)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-9.txt')).cards).toEqual(
      singleChipCards('910B2', 65536, [
        [96.5, 36, 29954, 45.7],
        [98.7, 37, 29951, 45.7],
        [94.2, 35, 29950, 45.7],
        [91.5, 38, 29951, 45.7],
        [96.6, 36, 3347, 5.1],
        [96.0, 39, 3350, 5.1],
        [97.5, 35, 3347, 5.1],
        [93.8, 37, 3347, 5.1],
      ]),
    );
  });

  it('numbers a lone visible NPU 2 as index 0 and keeps its NPU id as card_id (10)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-10.txt')).cards).toEqual(
      huawei([
        {
          index: 0,
          card_id: 2,
          chip_id: 0,
          name: '910ProB',
          health: 'OK',
          power_draw: 81.1,
          temperature: 39,
          utilization: 0,
          memory_used: 1,
          memory_total: 32768,
          memory_usage: 0,
        },
      ]),
    );
  });

  it('reads a 310B4 on an Atlas 200I DK A2 (11)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-11.txt')).cards).toEqual(
      huawei([
        {
          index: 0,
          card_id: 0,
          chip_id: 0,
          name: '310B4',
          health: 'OK',
          power_draw: 7.2,
          temperature: 37,
          utilization: 0,
          memory_used: 1797,
          memory_total: 3513,
          memory_usage: 51.2,
        },
      ]),
    );
  });

  it('reads two 910B2C of npu-smi 23.0.3 and 23.0.rc3 (12, 13)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-12.txt')).cards).toEqual(
      singleChipCards('910B2C', 65536, [
        [89.9, 53, 3317, 5.1],
        [93.8, 53, 3316, 5.1],
      ]),
    );
    expect(parseNpuSmi(sample('huawei-npu-smi-13.txt')).cards).toEqual(
      singleChipCards('910B2C', 65536, [
        [83.4, 35, 4302, 6.6],
        [83.4, 37, 4302, 6.6],
      ]),
    );
  });

  it('reads the old layout without Hugepages, numbering NPU 4..7 as index 0..3 (14)', () => {
    const card = { chip_id: 0, name: '910A', health: 'OK', utilization: 0, memory_used: 0, memory_total: 32768, memory_usage: 0 };
    expect(parseNpuSmi(sample('huawei-npu-smi-14.txt')).cards).toEqual(
      huawei([
        { ...card, index: 0, card_id: 4, power_draw: 67.2, temperature: 30 },
        { ...card, index: 1, card_id: 5, power_draw: 63.8, temperature: 25 },
        { ...card, index: 2, card_id: 6, power_draw: 67.1, temperature: 27 },
        { ...card, index: 3, card_id: 7, power_draw: 65.5, temperature: 30 },
      ]),
    );
  });

  it('reads both chips of an Atlas 300I Duo (NPU 1792) with power NA (15)', () => {
    const chip = { card_id: 1792, name: '310P3', health: 'OK', power_draw: null, temperature: 36, utilization: 0 };
    expect(parseNpuSmi(sample('huawei-npu-smi-15.txt')).cards).toEqual(
      huawei([
        { ...chip, index: 0, chip_id: 0, memory_used: 1821, memory_total: 44280, memory_usage: 4.1 },
        { ...chip, index: 1, chip_id: 1, memory_used: 1041, memory_total: 43693, memory_usage: 2.4 },
      ]),
    );
  });

  it('reads the wide npu-smi 26.x layout with its "Process id in container" table (16)', () => {
    expect(parseNpuSmi(sample('huawei-npu-smi-16.txt')).cards).toEqual(
      singleChipCards('910B3', 65536, [
        [100.0, 50, 8676, 13.2],
        [94.8, 48, 3403, 5.2],
        [90.0, 49, 3403, 5.2],
        [96.5, 48, 3407, 5.2],
        [96.5, 52, 3403, 5.2],
        [97.4, 49, 3402, 5.2],
        [97.8, 49, 3402, 5.2],
        [93.3, 51, 3403, 5.2],
      ]),
    );
  });

  it('reads CRLF output like LF output', () => {
    const lf = sample('huawei-npu-smi-3.txt');
    expect(parseNpuSmi(lf.replace(/\n/g, '\r\n'))).toEqual(parseNpuSmi(lf));
  });
});

describe('parseNpuSmi on output it cannot fully read', () => {
  const table910B = sample('huawei-npu-smi-1.txt');

  it.each(['huawei-npu-smi-usages-1.txt', 'huawei-npu-smi-common-1.txt', 'huawei-npu-smi-info-m-2.txt'])(
    'makes no cards of the per-card modes the probe does not run (%s), and says so',
    (name) => {
      const parsed = parseNpuSmi(sample(name));
      expect(parsed.cards).toEqual([]);
      expect(parsed.warnings).toEqual([expect.stringContaining('npu-smi printed no device table: NPU ID')]);
    },
  );

  it('warns on empty output', () => {
    expect(parseNpuSmi('')).toEqual({ cards: [], warnings: ['npu-smi printed nothing'] });
  });

  it('passes on an error message instead of a table', () => {
    expect(parseNpuSmi('\ndcmi module initialize failed. ret is -8005\n')).toEqual({
      cards: [],
      warnings: ['npu-smi printed no device table: dcmi module initialize failed. ret is -8005'],
    });
  });

  it('warns when the table has a header but no NPU rows', () => {
    const headerOnly = table910B.split('\n').slice(0, 6).join('\n');
    expect(parseNpuSmi(headerOnly)).toEqual({ cards: [], warnings: ['npu-smi: the device table lists no NPU'] });
  });

  it('warns when the output stops inside the header', () => {
    const halfHeader = table910B.split('\n').slice(0, 4).join('\n');
    expect(parseNpuSmi(halfHeader)).toEqual({ cards: [], warnings: ['npu-smi: the device table header is incomplete'] });
  });

  it('keeps what a table cut off in the middle of a chip row tells', () => {
    const table = sample('huawei-npu-smi-9.txt');
    const parsed = parseNpuSmi(table.slice(0, table.indexOf('0000:02:00.0') + 20));
    expect(parsed.cards).toHaveLength(4);
    expect(parsed.cards.slice(0, 3).map((card) => card.memory_used)).toEqual([29954, 29951, 29950]);
    // NPU 3's name row arrived whole; its chip row did not.
    expect(parsed.cards[3]).toEqual({
      index: 3,
      vendor: 'huawei',
      card_id: 3,
      name: '910B2',
      health: 'OK',
      power_draw: 91.5,
      temperature: 38,
      utilization: null,
      memory_used: null,
      memory_total: null,
      memory_usage: null,
    });
    expect(parsed.warnings).toEqual([expect.stringContaining('npu-smi: skipped a cut-off line: | 0'), 'npu-smi: NPU 3 has no chip row']);
  });

  it('leaves out the values of a cell that has more values than its header has names', () => {
    const extraValue = table910B.replace('| 88.6        51                0    / 0 ', '| 88.6        51      7         0    / 0 ');
    const parsed = parseNpuSmi(extraValue);
    expect(parsed.cards[0]).toMatchObject({ power_draw: null, temperature: null, utilization: 0, memory_used: 20701, memory_total: 65536 });
    expect(parsed.cards[1]).toMatchObject({ power_draw: 99.6, temperature: 50 });
    expect(parsed.warnings).toEqual([expect.stringContaining('npu-smi: cannot tell Power(W), Temp(C), Hugepages-Usage(page) apart in "88.6')]);
  });

  it('warns about a layout that lacks a column it reads, and still reads the others', () => {
    const renamed = table910B.replace('AICore(%)', 'Util(%)  ');
    const parsed = parseNpuSmi(renamed);
    expect(parsed.cards.map((card) => [card.utilization, card.power_draw, card.memory_used])).toEqual([
      [null, 88.6, 20701],
      [null, 99.6, 20687],
    ]);
    expect(parsed.warnings).toEqual(['npu-smi: the device table has no AICore(%) column']);
  });

  it('skips a row that names no NPU and numbers the next chip after the chips it kept', () => {
    const parsed = parseNpuSmi(table910B.replace('| 0     910B2C ', '| ?     910B2C '));
    expect(parsed.cards).toEqual([expect.objectContaining({ index: 0, card_id: 1, memory_used: 20687 })]);
    expect(parsed.warnings).toEqual([expect.stringContaining('npu-smi: skipped a row that names no NPU: ?     910B2C | OK | 88.6')]);
  });

  it('ignores rows beyond the two of a chip', () => {
    const chipRow = '| 0                         | 0000:5A:00.0  | 0           0    / 0          20701/ 65536         | ';
    const parsed = parseNpuSmi(table910B.replace(chipRow, `${chipRow}\n${chipRow}`));
    expect(parsed.cards).toHaveLength(2);
    expect(parsed.cards[0].memory_used).toBe(20701);
    expect(parsed.warnings).toEqual(['npu-smi: ignored 1 extra row(s) of NPU 0']);
  });

  it('never throws, even on a value that is not text', () => {
    const parsed = parseNpuSmi(undefined as unknown as string);
    expect(parsed.cards).toEqual([]);
    expect(parsed.warnings).toEqual([expect.stringContaining('npu-smi: output could not be read')]);
  });
});
