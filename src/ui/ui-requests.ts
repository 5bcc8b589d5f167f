import type { IncomingHttpHeaders } from 'node:http';

/** Paths the backend itself answers; the admin UI never shadows them, not even with its fallback page. */
const BACKEND_PATH = /^\/(api|socket\.io|v1|metrics)(\/|$)/i;

export function isBackendPath(path: string): boolean {
  return BACKEND_PATH.test(path);
}

/**
 * Whether the client asks for an HTML page by name (`Accept: text/html`, as browsers send for a navigation) rather than
 * accepting anything (`*∕*`, as fetch and scripts do): only those are sent to the sign-in page or get the SPA's
 * index.html, so an API client or a missing script always gets a plain status.
 */
export function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((range) => {
    const [type, ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    return type === 'text/html' && !parameters.some((parameter) => /^q=0(\.0*)?$/.test(parameter));
  });
}

/**
 * A request a page of another site made the browser send (`Sec-Fetch-Site: cross-site`). Browsers without the header
 * are treated as same-site: the SameSite=Strict login cookie already keeps their cross-site requests anonymous.
 */
export function isCrossSite(headers: IncomingHttpHeaders): boolean {
  return headers['sec-fetch-site'] === 'cross-site';
}
