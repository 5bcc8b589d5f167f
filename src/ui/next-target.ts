/** Longer targets are refused: nothing the UI links to needs more, and the redirect header stays small. */
export const NEXT_TARGET_MAX_LENGTH = 2048;

/** Resolves relative targets; never a real origin, so a target that leaves it is seen to. */
const PLACEHOLDER_ORIGIN = 'http://next-target.invalid';

/**
 * Where the sign-in page may send the browser afterwards, as a path on this backend or an absolute URL on its own origin
 * or one of `allowedOrigins` (CORS_ORIGINS, normalised); undefined for anything else, so that the sign-in page cannot be
 * an open redirect. The same rule is applied again by the page's script (login-page/login.js).
 */
export function safeNextTarget(raw: unknown, ownOrigin: string | undefined, allowedOrigins: ReadonlySet<string>): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > NEXT_TARGET_MAX_LENGTH) return undefined;
  // Browsers read `\` as `/` and drop tabs and newlines from URLs, so `/\evil.example` or `/<tab>/evil.example` would
  // leave for another host.
  if (/[\\\s\x00-\x1f\x7f]/.test(raw)) return undefined;
  if (raw.startsWith('/')) {
    // `//host/path` is another host.
    if (raw.startsWith('//')) return undefined;
    const url = new URL(raw, PLACEHOLDER_ORIGIN);
    return url.origin === PLACEHOLDER_ORIGIN ? url.pathname + url.search + url.hash : undefined;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password) return undefined;
  return url.origin === ownOrigin || allowedOrigins.has(url.origin) ? url.href : undefined;
}

/** The sign-in page, returning to `next` (already checked by safeNextTarget) afterwards. */
export function signInLocation(next: string | undefined): string {
  return next === undefined ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

/** `scheme://host[:port]` of each http(s) origin in the list; `*` and anything else unparsable are left out. */
export function normalisedOrigins(origins: readonly string[]): Set<string> {
  const normalised = new Set<string>();
  for (const origin of origins) {
    try {
      const url = new URL(origin);
      if (url.protocol === 'http:' || url.protocol === 'https:') normalised.add(url.origin);
    } catch {
      // Not an origin (`*`): it opens CORS to token-bearing scripts, never redirects.
    }
  }
  return normalised;
}
