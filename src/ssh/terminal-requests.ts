/** The checked payloads of the terminal's Socket.IO events; a refusal's `error` is sent as `ssh_error`. */

const MAX_AUTO_COMMAND_CHARS = 4096;
const MAX_WINDOW_DIMENSION = 1000;
/** The pty's size when `ssh_connect` gives none: the classic terminal. */
const DEFAULT_WINDOW = { cols: 80, rows: 24 };

export interface WindowSize {
  cols: number;
  rows: number;
}

export interface ConnectRequest extends WindowSize {
  serverId: number;
  /** Absent when not given or empty. */
  autoCommand?: string;
  serviceId?: number;
}

export interface Refusal {
  error: string;
}

export const isRefusal = (parsed: object): parsed is Refusal => 'error' in parsed;

const isPositiveInt = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0 && (value as number) <= 2_147_483_647;
const isWindowDimension = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_WINDOW_DIMENSION;
const isAbsent = (value: unknown) => value === undefined || value === null;
const WINDOW_SIZE_ERROR = `cols and rows must be integers from 1 to ${MAX_WINDOW_DIMENSION}`;

/** `ssh_connect {server_id, auto_command?, service_id?, cols?, rows?}`. */
export function parseConnect(payload: unknown): ConnectRequest | Refusal {
  const { server_id: serverId, auto_command: autoCommand, service_id: serviceId, cols, rows } = (payload ?? {}) as Record<string, unknown>;
  if (!isPositiveInt(serverId)) return { error: 'server_id must be a positive integer' };
  if (!isAbsent(autoCommand) && (typeof autoCommand !== 'string' || autoCommand.length > MAX_AUTO_COMMAND_CHARS)) {
    return { error: `auto_command must be a string of at most ${MAX_AUTO_COMMAND_CHARS} characters` };
  }
  if (!isAbsent(serviceId) && !isPositiveInt(serviceId)) return { error: 'service_id must be a positive integer' };
  // Each may be given alone; the other keeps its default.
  if ((!isAbsent(cols) && !isWindowDimension(cols)) || (!isAbsent(rows) && !isWindowDimension(rows))) return { error: WINDOW_SIZE_ERROR };
  return {
    serverId,
    autoCommand: typeof autoCommand === 'string' && autoCommand !== '' ? autoCommand : undefined,
    serviceId: isPositiveInt(serviceId) ? serviceId : undefined,
    cols: isWindowDimension(cols) ? cols : DEFAULT_WINDOW.cols,
    rows: isWindowDimension(rows) ? rows : DEFAULT_WINDOW.rows,
  };
}

/** `ssh_resize {cols, rows}`: both required. */
export function parseResize(payload: unknown): WindowSize | Refusal {
  const { cols, rows } = (payload ?? {}) as Record<string, unknown>;
  if (!isWindowDimension(cols) || !isWindowDimension(rows)) return { error: WINDOW_SIZE_ERROR };
  return { cols, rows };
}
