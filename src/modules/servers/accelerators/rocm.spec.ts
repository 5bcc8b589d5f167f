import { sample } from '../../../../test/helpers/accelerator-samples';
import { AcceleratorMetrics, AcceleratorVendor, blankCard } from './accelerator-metrics';
import { AMD_ROCM_SMI, HYGON_HY_SMI } from './rocm';

const card = (vendor: AcceleratorVendor, index: number, name: string, fields: Partial<AcceleratorMetrics>) => ({
  ...blankCard(vendor, index, name),
  ...fields,
});

describe('AMD_ROCM_SMI', () => {
  const parse = (name: string) => AMD_ROCM_SMI.parse(sample(name));

  it('runs the JSON mode that printed the AMD and Hygon samples', () => {
    expect(AMD_ROCM_SMI.command).toBe(
      'rocm-smi --showid --showmeminfo vram --showpower --showserial --showuse --showtemp --showproductname --showuniqueid --json',
    );
  });

  it('reads every metric of the RX 7700 XT / 7800 XT, memory from bytes, edge temperature (json-3)', () => {
    expect(parse('amd-rocm-smi-json-3.txt')).toEqual({
      cards: [
        card('amd', 0, 'Navi 32 [Radeon RX 7700 XT / 7800 XT]', {
          utilization: 100,
          memory_used: 11077,
          memory_total: 16368,
          memory_usage: 67.7,
          temperature: 45,
          power_draw: 53,
        }),
      ],
      warnings: [],
    });
  });

  it('leaves temperature and power null when the command did not ask for them (json-1, RX 7900 XT)', () => {
    expect(parse('amd-rocm-smi-json-1.txt')).toEqual({
      cards: [card('amd', 0, 'Radeon RX 7900 XT', { utilization: 0, memory_used: 27, memory_total: 20464, memory_usage: 0.1 })],
      warnings: [],
    });
  });

  it('lists both cards of a --showmemuse output without taking memory activity for memory in use (json-2, 2x RX 6800)', () => {
    // "GPU memory use (%)" is mem_busy_percent (rocm_smi_lib PR #120), not the share of VRAM allocated.
    expect(parse('amd-rocm-smi-json-2.txt')).toEqual({ cards: [card('amd', 0, 'card0', {}), card('amd', 1, 'card1', {})], warnings: [] });
  });

  it("reads the JSON of Hygon's DTK rocm-smi (DCU use, MiB keys), but as AMD: on Hygon the probe runs hy-smi instead", () => {
    expect(parse('hygon-rocm-smi-json-1.txt')).toEqual({
      cards: [card('amd', 0, 'DCU xxxx', { utilization: 0, memory_used: 2, memory_total: 65520, memory_usage: 0, temperature: 41, power_draw: 80 })],
      warnings: [],
    });
  });

  it('orders cards by number, reads other key spellings and ignores non-card keys and noise around the JSON', () => {
    const output = `WARNING: one GPU is hidden\n${JSON.stringify({
      card10: { 'Card series': 'AMD Instinct MI300X', 'GPU use (%)': '12', 'Current Socket Graphics Package Power (W)': '133.0' },
      system: { 'Driver version': '6.7.0' },
      card2: {
        'Card Series': 'N/A',
        'Device Name': 'Aqua Vanjaram [Instinct MI300X]',
        'Temperature (Sensor edge) (C)': 'N/A',
        'Temperature (Sensor junction) (C)': '35.0',
        'VRAM Total Memory (GiB)': '192',
        'VRAM Total Used Memory (KiB)': '1048576',
      },
    })}\n`;
    expect(AMD_ROCM_SMI.parse(output)).toEqual({
      cards: [
        card('amd', 2, 'Aqua Vanjaram [Instinct MI300X]', { memory_used: 1024, memory_total: 196608, memory_usage: 0.5, temperature: 35 }),
        card('amd', 10, 'AMD Instinct MI300X', { utilization: 12, power_draw: 133 }),
      ],
      warnings: [],
    });
  });

  // The probe runs --json; the concise tables and --csv are other commands' formats.
  it.each(['amd-rocm-smi-1.txt', 'amd-rocm-smi-2.txt', 'amd-rocm-smi-3.txt', 'amd-rocm-smi-csv-1.txt'])(
    'gives no cards and a warning for %s',
    (name) => {
      const { cards, warnings } = parse(name);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining('rocm-smi printed no readable JSON')]);
    },
  );

  describe('malformed output', () => {
    it.each([
      ['empty', '', 'rocm-smi printed no readable JSON'],
      ['garbage', 'ERROR: GPU[0] : Unable to get GPU memory use.', 'rocm-smi printed no readable JSON'],
      ['truncated JSON', sample('amd-rocm-smi-json-3.txt').slice(0, 400), 'rocm-smi printed no readable JSON'],
      ['JSON cut after a card', sample('amd-rocm-smi-json-3.txt').replace(/\n {2}}\n$/, ''), 'rocm-smi printed no readable JSON'],
      ['braces that are not JSON', '{ not json }', 'rocm-smi printed no readable JSON'],
      ['no cards', '{"system": {"Driver version": "6.7.0"}}', 'rocm-smi listed no cards'],
      ['a card that is not an object', '{"card0": "N/A"}', 'rocm-smi listed no cards'],
    ])('%s gives no cards and a warning', (_, output, warning) => {
      const { cards, warnings } = AMD_ROCM_SMI.parse(output);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining(warning)]);
    });
  });
});

describe('HYGON_HY_SMI', () => {
  const parse = (name: string) => HYGON_HY_SMI.parse(sample(name));
  const dcu = (index: number, temperature: number, power_draw: number) =>
    card('hygon', index, 'Hygon DCU', { utilization: 0, memory_usage: 0, temperature, power_draw });

  it('runs the default table, the only hy-smi format with real samples', () => {
    expect(HYGON_HY_SMI).toMatchObject({ vendor: 'hygon', tool: 'hy-smi', command: 'hy-smi' });
  });

  it('reads the 8 HCUs of the table with a Mode column and trailing spaces (hy-smi-1)', () => {
    expect(parse('hygon-hy-smi-1.txt')).toEqual({
      cards: [dcu(0, 59, 114), dcu(1, 61, 109), dcu(2, 60, 106), dcu(3, 59, 107), dcu(4, 60, 118), dcu(5, 62, 113), dcu(6, 58, 106), dcu(7, 58, 115)],
      warnings: [],
    });
  });

  it('reads the table with Dec% and Enc% columns (hy-smi-2, one BW101)', () => {
    expect(parse('hygon-hy-smi-2.txt')).toEqual({ cards: [dcu(0, 46, 51)], warnings: [] });
  });

  it('reads the DTK 26.04 table without a trailing newline (hy-smi-3, 2x BW1000)', () => {
    expect(parse('hygon-hy-smi-3.txt')).toEqual({ cards: [dcu(0, 50, 80), dcu(1, 52, 89)], warnings: [] });
  });

  it('reads the same table as printed by older rocm-smi builds on Hygon, GPU% or DCU% and a lower-case "c"', () => {
    expect(parse('hygon-rocm-smi-1.txt')).toEqual({ cards: [dcu(0, 50, 23), dcu(1, 48, 25), dcu(2, 48, 24), dcu(3, 49, 27)], warnings: [] });
    expect(parse('hygon-rocm-smi-2.txt')).toEqual({ cards: [dcu(0, 30, 38), dcu(1, 30, 41), dcu(2, 29, 38), dcu(3, 29, 39)], warnings: [] });
  });

  it('reads busy cards and N/A cells by column name', () => {
    const output = [
      'HCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      HCU%      Mode',
      '0       71.0C    305.0W     auto     400.0W     87%        99.5%     Normal',
      '1       N/A      N/A        auto     400.0W     N/A        N/A       Normal',
      '=======================================',
      '5       1.0C     1.0W       auto     400.0W     1%         1.0%      Normal',
    ].join('\r\n');
    expect(HYGON_HY_SMI.parse(output)).toEqual({
      cards: [
        card('hygon', 0, 'Hygon DCU', { utilization: 99.5, memory_usage: 87, temperature: 71, power_draw: 305 }),
        card('hygon', 1, 'Hygon DCU', {}),
      ],
      warnings: [],
    });
  });

  describe('malformed output', () => {
    const table = sample('hygon-hy-smi-1.txt');

    it.each([
      ['empty', '', 'hy-smi printed no device table'],
      ['garbage', 'hy-smi: error while loading shared libraries: libhydmi.so', 'hy-smi printed no device table'],
      ['a JSON object', '{"card0": {"HCU use (%)": "0.0"}}', 'hy-smi printed no device table'],
      ['header only', table.split('\n').slice(0, 4).join('\n'), 'hy-smi listed no devices'],
      ['header and closing rules only', table.replace(/^\d.*\n/gm, ''), 'hy-smi listed no devices'],
    ])('%s gives no cards and a warning', (_, output, warning) => {
      const { cards, warnings } = HYGON_HY_SMI.parse(output);
      expect(cards).toEqual([]);
      expect(warnings).toEqual([warning === 'hy-smi listed no devices' ? warning : expect.stringContaining(warning)]);
    });

    it('keeps the complete rows of a table cut mid-row and warns about the cut one', () => {
      const { cards, warnings } = HYGON_HY_SMI.parse(table.slice(0, table.indexOf('3       59.0C') + 24));
      expect(cards.map((dcu) => dcu.index)).toEqual([0, 1, 2]);
      expect(warnings).toEqual(['hy-smi row does not match its header: 3       59.0C    107.0W']);
    });
  });
});
