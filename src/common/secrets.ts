/** Keys whose values are secrets wherever they appear (request bodies, log lines, errors). */
const SECRET_KEYS = new Set(['password', 'private_key', 'passphrase', 'token', 'access_token', 'authorization', 'secret']);

/** A copy of `value` with every secret-named field replaced by `***`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, SECRET_KEYS.has(key.toLowerCase()) ? '***' : maskSecrets(inner)]),
  );
}
