import { AcceleratorTool, ParsedAccelerators } from './accelerator-metrics';
import { parseBoxedDeviceTable } from './table-text';

/** mx-smi's default table: mx-smi has no JSON or CSV mode. */
export const METAX_MX_SMI: AcceleratorTool = { vendor: 'metax', tool: 'mx-smi', command: 'mx-smi', parse: parseMxSmi };

/**
 * Reads the device table of `mx-smi` (2.1 with a "Power" column, 2.2 with "Pwr:Usage/Cap" and "GPU-State"); the
 * process table below it never yields cards. GPU-State (`Available`) is the only status word mx-smi prints, so it is
 * the health; 2.1 has no such column.
 */
export function parseMxSmi(output: string): ParsedAccelerators {
  return parseBoxedDeviceTable(output, {
    tool: 'mx-smi',
    vendor: 'metax',
    device: 'GPU',
    columns: {
      index: 'GPU',
      name: 'NAME',
      utilization: 'GPU-Util',
      temperature: 'Temp',
      power: ['Pwr:Usage/Cap', 'Power'],
      memory: 'Memory-Usage',
    },
    health: 'GPU-State',
  });
}
