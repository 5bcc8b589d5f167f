/** Reading the old database's loosely typed values (SQLite stores whatever it was given). */

/** Text, or null when absent or blank. */
export function legacyText(value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** A whole number (also stored as text), or null. */
export function legacyInteger(value: unknown): number | null {
  const number = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : null;
}

const SQLITE_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/;

/**
 * An instant, or null. SQLite's CURRENT_TIMESTAMP (`2024-05-01 10:00:00`, the default of the created_at columns) is
 * UTC; Python's `datetime.now().isoformat()` (`2024-05-01T12:00:00.123456`, no zone) is the machine's local time, as
 * JavaScript reads it too.
 */
export function legacyTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const utc = SQLITE_UTC.exec(value.trim());
  const date = new Date(utc ? `${utc[1]}T${utc[2]}Z` : value.trim());
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Parsed JSON text, or undefined when it is not JSON. */
export function legacyJson(value: unknown): unknown {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

/** `services.server_ids` (JSON text such as `[1, 2]`): the ids, or null when it is not a list of ids. */
export function legacyIdList(value: unknown): number[] | null {
  const list = legacyJson(value);
  if (!Array.isArray(list)) return null;
  const ids = list.map(legacyInteger);
  return ids.every((id): id is number => id !== null && id > 0) ? [...new Set(ids)] : null;
}

/** A status of the old backend as one of ours: `status`, and `change` to report when it was not ours already. */
export interface MappedStatus {
  status: string;
  change?: string;
}

/**
 * How each old status value becomes one of ours. The old backend wrote `pending` before a server's first check and a
 * service's first deployment; `deploying` and `executing` only last while the old process ran, so nothing stands behind
 * them any more.
 */
const STATUS_MAPS = {
  server: { values: ['online', 'offline'], old: { pending: 'offline' }, fallback: 'offline' },
  service: { values: ['offline', 'online', 'deployed'], old: { pending: 'offline', deploying: 'offline' }, fallback: 'offline' },
  task: { values: ['pending', 'completed', 'failed'], old: { executing: 'failed', running: 'failed' }, fallback: 'pending' },
} as const;

export function legacyStatus(kind: keyof typeof STATUS_MAPS, value: unknown): MappedStatus {
  const map = STATUS_MAPS[kind];
  const old = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if ((map.values as readonly string[]).includes(old)) return { status: old };
  if (old === '') return { status: map.fallback };
  const status = (map.old as Record<string, string>)[old] ?? map.fallback;
  return { status, change: `status "${String(value)}" became "${status}"` };
}
