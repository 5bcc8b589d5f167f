import { AcceleratorTool, ParsedAccelerators } from './accelerator-metrics';
import { parseBoxedDeviceTable } from './table-text';

/**
 * ixsmi's default, nvidia-smi-like table. ixsmi also has nvidia-smi's `--query-gpu=... --format=csv`, but no real
 * sample of its CSV exists.
 */
export const ILUVATAR_IXSMI: AcceleratorTool = { vendor: 'iluvatar', tool: 'ixsmi', command: 'ixsmi', parse: parseIxsmi };

/**
 * Reads the device table of `ixsmi`; the process table below it never yields cards. A dual-die card (BI-V150,
 * MR-V100 DUO) shows as one GPU per die without a card id, and one die of each pair reports power `N/A / N/A`.
 */
export function parseIxsmi(output: string): ParsedAccelerators {
  return parseBoxedDeviceTable(output, {
    tool: 'ixsmi',
    vendor: 'iluvatar',
    device: 'GPU',
    columns: { index: 'GPU', name: 'Name', utilization: 'GPU-Util', temperature: 'Temp', power: 'Pwr:Usage/Cap', memory: 'Memory-Usage' },
  });
}
