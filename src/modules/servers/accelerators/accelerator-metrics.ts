/** The vendors whose monitoring tools the resource probe runs. */
export const ACCELERATOR_VENDORS = [
  'nvidia',
  'huawei',
  'cambricon',
  'hygon',
  'amd',
  'metax',
  'iluvatar',
  'moorethreads',
  'kunlunxin',
  'enflame',
] as const;
export type AcceleratorVendor = (typeof ACCELERATOR_VENDORS)[number];

/**
 * One accelerator (one chip of a multi-chip card) as every vendor's tool is reported: `null` for what the card or
 * the tool cannot tell. Kept under the old name `gpus` in the resources response.
 */
export interface AcceleratorMetrics {
  /** Position in the server's list of accelerators: the tool's device index, else the order it printed them in. */
  index: number;
  vendor: AcceleratorVendor;
  /** The product name as the tool prints it (e.g. `NVIDIA H100 80GB HBM3`, `910B2C`, `MLU370-X4`). */
  name: string;
  /** Percent of compute in use (NVIDIA GPU-Util, Ascend AICore, Cambricon MLU average...). */
  utilization: number | null;
  /** MiB: on-package memory (HBM where the tool reports both HBM and DDR). */
  memory_used: number | null;
  /** MiB. */
  memory_total: number | null;
  /** Percent of memory_total in use, one decimal. */
  memory_usage: number | null;
  /** Degrees Celsius. */
  temperature: number | null;
  /** Watts. */
  power_draw: number | null;
  /** The tool's own health word (`OK`, `Warning`, `Alarm`...) where it reports one, else null. */
  health: string | null;
  /** For a card with several chips (Ascend 310P, A3, 300I Duo...): the card's id as the tool names it. */
  card_id?: number;
  /** For a card with several chips: the chip's id on its card. */
  chip_id?: number;
}

/** What a parser makes of one tool's output. Malformed or unknown output gives fewer cards and a warning, never an exception. */
export interface ParsedAccelerators {
  cards: AcceleratorMetrics[];
  warnings: string[];
}

/** One vendor's monitoring tool, as the resource probe runs it. */
export interface AcceleratorTool {
  vendor: AcceleratorVendor;
  /** The executable the probe looks for (`command -v`). */
  tool: string;
  /** Another vendor's tool whose presence means this one reports that vendor's cards: then this one is not run. */
  unlessFound?: string;
  /** What the probe runs when the tool exists: its machine-readable mode where it has one. Output is stdout. */
  command: string;
  parse(output: string): ParsedAccelerators;
}

/** Values that mean "the tool cannot tell": `N/A`, `[N/A]`, `[Not Supported]`, `NA`, `-`, `--`, empty... */
const UNKNOWN = /^\[?(n\/?a|not supported|unknown|requested functionality has been deprecated|-+|)\]?$/i;

/**
 * A number the tool printed, possibly with a unit (`51C`, `88.6 W`, `1024MiB`, `45 %`); null for "unknown" markers
 * and anything else that is not a finite number.
 */
export function numberOrNull(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  const trimmed = text.trim();
  if (UNKNOWN.test(trimmed)) return null;
  const match = /^[-+]?\d+(\.\d+)?/.exec(trimmed);
  if (!match) return null;
  const value = Number(match[0]);
  return Number.isFinite(value) ? value : null;
}

/** Percent to one decimal; null when either side is unknown or the whole is not positive. */
export function usagePercent(used: number | null, total: number | null): number | null {
  if (used === null || total === null || total <= 0) return null;
  return Math.round((used / total) * 1000) / 10;
}

/** A card with every metric unknown, to fill in: parsers set what their tool reports. */
export function blankCard(vendor: AcceleratorVendor, index: number, name: string): AcceleratorMetrics {
  return {
    index,
    vendor,
    name,
    utilization: null,
    memory_used: null,
    memory_total: null,
    memory_usage: null,
    temperature: null,
    power_draw: null,
    health: null,
  };
}
