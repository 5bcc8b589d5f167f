/** Keys whose values are secrets wherever they appear (request bodies, log lines, errors): `new_password`, `access_token`… */
const SECRET_KEY = /password|passphrase|private_key|secret|(^|_)token$|authorization|cookie/i;
/**
 * The wider net for what goes to the log: a body the backend refused may carry a secret under any name a client
 * invents (`pwd`, `pass_word`, `private_key_pem`, `api_key`), and so may a query string.
 */
const LOOKS_SECRET = /pass|pwd|secret|token|key|authorization|cookie|credential|session|signature/i;
/** Values that are credentials whatever their name: API tokens and JWTs. */
const CREDENTIAL_VALUE = /^(ist_|eyJ)/;

/** A copy of `value` with every secret-named field replaced by `***`. */
export function maskSecrets(value: unknown, secretKey: RegExp = SECRET_KEY): unknown {
  if (Array.isArray(value)) return value.map((inner) => maskSecrets(inner, secretKey));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, secretKey.test(key) ? '***' : maskSecrets(inner, secretKey)]));
}

/** A request body as it may be logged: any field whose name looks secret is masked, at any depth. */
export function maskForLog(body: unknown): unknown {
  return maskSecrets(body, LOOKS_SECRET);
}

/** A request URL as it may be logged: query values that look secret by name or by shape are masked. */
export function maskUrlForLog(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = new URLSearchParams(url.slice(start + 1));
  let masked = false;
  for (const [key, value] of [...query]) {
    if (!LOOKS_SECRET.test(key) && !CREDENTIAL_VALUE.test(value)) continue;
    query.set(key, '***');
    masked = true;
  }
  return masked ? `${url.slice(0, start)}?${query.toString()}` : url;
}
