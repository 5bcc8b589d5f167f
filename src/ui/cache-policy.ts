/** Files whose name changes with their content may be kept by browsers and proxies for good. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else is checked with the server (Last-Modified, ETag) before each use: index.html names the current assets. */
export const REVALIDATE = 'no-cache';

/** Vue CLI (webpack) names its output `app.3f9a1c2b.js`; Vite puts its hashed output under `assets/`. */
const CONTENT_HASH = /[.-][0-9a-f]{8,}\.[a-z0-9]+$/i;

/** The Cache-Control of a file of the built admin UI, by its path relative to UI_DIR. */
export function cacheControlFor(relativePath: string): string {
  const segments = relativePath.split(/[\\/]/).filter(Boolean);
  return segments[0] === 'assets' || CONTENT_HASH.test(segments.at(-1) ?? '') ? IMMUTABLE : REVALIDATE;
}
