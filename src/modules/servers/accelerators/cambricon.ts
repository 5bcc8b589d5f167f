import { AcceleratorTool, ParsedAccelerators } from './accelerator-metrics';
import { parseBoxedDeviceTable } from './table-text';

/**
 * cnmon's default table (CNMON 1.16 to 5.10 layouts). Its JSON mode (`cnmon info -j`) writes to a file in the working
 * directory instead of stdout, and no real sample of that JSON exists.
 */
export const CAMBRICON_CNMON: AcceleratorTool = { vendor: 'cambricon', tool: 'cnmon', command: 'cnmon', parse: parseCnmon };

/** Reads the device table of `cnmon`; the process table below it never yields cards. */
export function parseCnmon(output: string): ParsedAccelerators {
  return parseBoxedDeviceTable(output, {
    tool: 'cnmon',
    vendor: 'cambricon',
    device: 'card',
    columns: { index: 'Card', name: 'Name', utilization: 'Util', temperature: 'Temp', power: 'Pwr:Usage/Cap', memory: 'Memory-Usage' },
  });
}
