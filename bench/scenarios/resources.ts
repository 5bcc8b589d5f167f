import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, median, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const SINGLE_CALLS = 5;
const BATCH_CALLS = 3;
const BATCH_SIZES = [20, 100];
const TARGET_MAX_RATIO = 2;

interface Resources {
  id?: number;
  cpu_usage: number | null;
  error?: string;
}

interface CallPlan {
  label: string;
  method: string;
  /** Entries expected in each answer. */
  servers: number;
  /** Timed calls, after one warm-up call. */
  calls: number;
}

interface Measurement {
  label: string;
  servers: number;
  latencies: number[];
  /** Entries, warm-up call included, that have no numeric cpu_usage or carry an error. */
  failed: number;
  entries: number;
  errors: Set<string>;
}

export const resources: Scenario = {
  name: 'resources',
  description:
    'GET /api/servers/:id/resources on one server against POST /api/servers/resources ' +
    `over ${BATCH_SIZES.join(' and ')} servers (all on one sshd)`,
  async run() {
    const sshd = await startSshd();
    try {
      // Unset even if the shell exports it (spawn drops undefined values): the figures are a stock install's.
      const backend = await startBackend({ RESOURCES_CONCURRENCY: undefined });
      try {
        const measurements: Measurement[] = [];
        const ids: number[] = [];
        await addServers(backend.baseUrl, sshd, ids, BATCH_SIZES[0]);
        const single = { label: 'GET /api/servers/:id/resources', method: 'GET', servers: 1, calls: SINGLE_CALLS };
        measurements.push(await measure(`${backend.baseUrl}/api/servers/${ids[0]}/resources`, single));
        for (const size of BATCH_SIZES) {
          await addServers(backend.baseUrl, sshd, ids, size);
          const batch = { label: 'POST /api/servers/resources', method: 'POST', servers: size, calls: BATCH_CALLS };
          measurements.push(await measure(`${backend.baseUrl}/api/servers/resources`, batch));
        }
        return report(measurements);
      } finally {
        await backend.stop();
      }
    } finally {
      await sshd.stop();
    }
  },
};

/** Creates servers gpu-<n> until `ids` holds `count` of them; one at a time so ids follow names. */
async function addServers(baseUrl: string, sshd: TestSshd, ids: number[], count: number): Promise<void> {
  while (ids.length < count) ids.push(await createSshServer(baseUrl, sshd, `gpu-${ids.length + 1}`));
}

/** One warm-up call (it opens the pooled connections), then `calls` timed ones; every answer is checked. */
async function measure(url: string, plan: CallPlan): Promise<Measurement> {
  const { label, method, servers, calls } = plan;
  const measurement: Measurement = { label, servers, latencies: [], failed: 0, entries: 0, errors: new Set() };
  for (let n = 0; n <= calls; n++) {
    const { ms, value } = await timed(() => requestJson<Resources | Resources[]>(url, method, 200));
    if (n > 0) measurement.latencies.push(ms);
    const entries = Array.isArray(value) ? value : [value];
    if (entries.length !== servers) throw new Error(`${label} returned ${entries.length} entries for ${servers} servers`);
    for (const entry of entries) {
      measurement.entries++;
      if (typeof entry.cpu_usage === 'number' && entry.error === undefined) continue;
      measurement.failed++;
      measurement.errors.add(entry.error ?? 'cpu_usage is not a number');
    }
  }
  return measurement;
}

function report(measurements: Measurement[]): string {
  const [single, ...batches] = measurements;
  const largest = batches[batches.length - 1];
  const ratio = median(largest.latencies) / median(single.latencies);
  const table = renderTable(
    ['request', 'servers', 'calls', 'median ms', 'min ms', 'max ms', 'failed entries'],
    measurements.map(({ label, servers, latencies, failed, entries }) => [
      label,
      String(servers),
      String(latencies.length),
      ms(median(latencies)),
      ms(Math.min(...latencies)),
      ms(Math.max(...latencies)),
      `${failed}/${entries}`,
    ]),
  );
  const errors = measurements.flatMap(({ label, servers, errors }) => [...errors].map((error) => `  ${label} (${servers}): ${error}`));
  return [
    "every probe samples /proc/stat 0.5 s apart; one sshd on loopback serves every server; RESOURCES_CONCURRENCY at the backend's default",
    'calls are timed after one warm-up call that opens the pooled connections; failed entries count the warm-up call too',
    '',
    table,
    '',
    `ratio batch ${largest.servers} / single (medians): ${ratio.toFixed(2)}x ` +
      `(target <= ${TARGET_MAX_RATIO}x: ${ratio <= TARGET_MAX_RATIO ? 'met' : 'MISSED'})`,
    errors.length === 0 ? 'failures: none' : ['FAILURES (no numeric cpu_usage, or an error):', ...errors].join('\n'),
  ].join('\n');
}

const ms = (value: number) => value.toFixed(0);
