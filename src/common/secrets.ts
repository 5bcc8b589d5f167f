/** Keys whose values are secrets wherever they appear (request bodies, log lines, errors): `new_password`, `access_token`… */
const SECRET_KEY = /password|passphrase|private_key|secret|(^|_)token$|authorization|cookie/i;

/** A copy of `value` with every secret-named field replaced by `***`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) ? '***' : maskSecrets(inner)]),
  );
}
