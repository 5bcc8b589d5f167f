import { startBackend } from '../backend';
import { LoadResult, LoadSettings, measureGet } from '../load';
import { startReferenceServer } from '../reference-server';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const BRAND_COUNT = 200;
const ENDPOINTS = ['/api/brands', '/api/stats'];
const TARGET_MIN_RATIO = 0.25;
const TARGET_MAX_P50_MS = 5;

interface Comparison {
  /** e.g. `GET /api/brands (token)`. */
  endpoint: string;
  bodyBytes: number;
  backend: LoadResult;
  reference: LoadResult;
}

export const rest: Scenario = {
  name: 'rest',
  description:
    `GET /api/brands (${BRAND_COUNT} brands) and GET /api/stats, signed in with a login token and with ` +
    'AUTH_ENABLED=false, against a bare node:http server serving the same bytes',
  async run(settings) {
    const comparisons: Comparison[] = [];
    for (const auth of ['token', 'auth off'] as const) {
      const backend = await startBackend({ AUTH_ENABLED: auth === 'token' ? 'true' : 'false' });
      try {
        await createBrands(backend.baseUrl, BRAND_COUNT, backend.authHeaders);
        for (const endpoint of ENDPOINTS) comparisons.push(await compare(backend.baseUrl, endpoint, settings, backend.authHeaders, auth));
      } finally {
        await backend.stop();
      }
    }
    return report(comparisons, settings);
  },
};

async function createBrands(baseUrl: string, count: number, authHeaders: Record<string, string>): Promise<void> {
  // One at a time so that ids and order are the same on every run.
  for (let n = 1; n <= count; n++) {
    const response = await fetch(`${baseUrl}/api/brands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders },
      body: JSON.stringify({ name: `Brand ${n}`, logo: '/api/uploads/x.png' }),
    });
    const text = await response.text();
    if (response.status !== 201) throw new Error(`POST /api/brands answered ${response.status}: ${text}`);
  }
}

/** Measures the endpoint, then a reference server answering with the very bytes the endpoint returned. */
async function compare(
  baseUrl: string,
  endpoint: string,
  settings: LoadSettings,
  authHeaders: Record<string, string>,
  auth: string,
): Promise<Comparison> {
  const url = baseUrl + endpoint;
  const response = await fetch(url, { headers: authHeaders });
  if (response.status !== 200) throw new Error(`GET ${endpoint} answered ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  const backend = await measureGet(url, settings, authHeaders);
  const reference = await startReferenceServer(body);
  try {
    return { endpoint: `GET ${endpoint} (${auth})`, bodyBytes: body.length, backend, reference: await measureGet(reference.url, settings) };
  } finally {
    await reference.stop();
  }
}

function report(comparisons: Comparison[], settings: LoadSettings): string {
  const rows = comparisons.map(({ endpoint, backend, reference }) => {
    const ratio = backend.requestsPerSec / reference.requestsPerSec;
    const misses = [
      ratio < TARGET_MIN_RATIO ? `ratio < ${TARGET_MIN_RATIO * 100}%` : '',
      backend.p50Ms >= TARGET_MAX_P50_MS ? `p50 >= ${TARGET_MAX_P50_MS} ms` : '',
    ].filter(Boolean);
    return [
      endpoint,
      rate(backend.requestsPerSec),
      ms(backend.p50Ms),
      ms(backend.p99Ms),
      rate(reference.requestsPerSec),
      ms(reference.p50Ms),
      ms(reference.p99Ms),
      `${(ratio * 100).toFixed(1)}%`,
      misses.length === 0 ? 'yes' : `no (${misses.join(', ')})`,
    ];
  });
  const table = renderTable(['endpoint', 'backend req/s', 'p50 ms', 'p99 ms', 'reference req/s', 'p50 ms', 'p99 ms', 'ratio', 'targets met'], rows);
  const failures = comparisons.flatMap(({ endpoint, backend, reference }) => [
    ...failuresOf(`backend ${endpoint}`, backend),
    ...failuresOf(`reference for ${endpoint}`, reference),
  ]);
  // Both backends serve the same bytes.
  const bodies = comparisons
    .slice(0, ENDPOINTS.length)
    .map(({ endpoint, bodyBytes }) => `${endpoint} ${bodyBytes} B`)
    .join(', ');
  return [
    `load: ${settings.connections} connections, ` + `${settings.durationSec} s per run after a ${settings.warmupSec} s warm-up`,
    `targets: backend req/s >= ${TARGET_MIN_RATIO * 100}% of the reference, backend p50 < ${TARGET_MAX_P50_MS} ms`,
    '',
    table,
    '',
    `latencies in whole ms (autocannon's resolution); bodies: ${bodies}`,
    failures.length === 0 ? 'non-2xx responses and errors: none' : failures.join('\n'),
  ].join('\n');
}

/** A run with failed requests measured something else than serving the body: say so loudly. */
function failuresOf(label: string, { non2xx, errors }: LoadResult): string[] {
  return non2xx + errors > 0 ? [`WARNING ${label}: ${non2xx} non-2xx responses, ${errors} errors`] : [];
}

const rate = (perSec: number) => Math.round(perSec).toLocaleString('en-US');
// autocannon's latency histogram has 1 ms resolution: decimals would be noise.
const ms = (value: number) => String(Math.round(value));
