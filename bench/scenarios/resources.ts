import { Client } from 'ssh2';
import { EnvironmentVariables } from '../../src/config/environment';
import { parseResourceProbe, resourceProbeCommand } from '../../src/modules/servers/resource-probe';
import { loginShellCommand } from '../../src/ssh/shell-quote';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, median, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Figure, Scenario, ScenarioResult, Verdict } from '../scenario';
import { connectNoDelay, DIRECT_NO_DELAY_NOTE, execDirect } from '../ssh-direct';
import { targetNote, verdictWord } from '../summary';
import { renderTable } from '../table';

const SINGLE_CALLS = 5;
const BATCH_CALLS = 3;
const BATCH_SIZES = [20, 100];
/** Issue #19: the backend's warm batch over the most servers against the direct floor as wide. */
const TARGET_MAX_RATIO_TO_DIRECT = 1.2;
/** The earlier target, its warm batch against its own single call; still reported. */
const EARLIER_MAX_RATIO_TO_SINGLE = 2;
/** The backend runs with its defaults (the scenario unsets these variables), so the direct reference reads the same ones. */
const DEFAULTS = new EnvironmentVariables();
/** Channels one pooled connection carries before the pool opens another (SSH_MAX_CHANNELS); the direct reference's limit too. */
const CHANNELS_PER_CONNECTION = DEFAULTS.SSH_MAX_CHANNELS;
/** What the backend runs for a probe: the servers service's command, in the executor's login shell, without a pty. */
const PROBE_COMMAND = loginShellCommand(resourceProbeCommand(DEFAULTS.RESOURCES_TOOL_TIMEOUT_SECONDS));

interface Resources {
  id?: number;
  cpu_usage: number | null;
  error?: string;
}

interface CallPlan {
  label: string;
  /** Entries expected in each answer. */
  servers: number;
  /** Timed calls, after the first one. */
  calls: number;
  /** SSH connections the first call opens (the later ones reuse them). */
  opens: number;
}

interface Measurement extends CallPlan {
  /** The first call, which opens the connections not yet open: the cold figure. */
  firstMs: number;
  /** The warm calls after it. */
  latencies: number[];
  /** Entries, first call included, that have no numeric cpu_usage or carry an error. */
  failed: number;
  entries: number;
  errors: Set<string>;
}

export const resources: Scenario = {
  name: 'resources',
  description:
    'GET /api/servers/:id/resources on one server against POST /api/servers/resources ' +
    `over ${BATCH_SIZES.join(' and ')} servers (all on one sshd), and against the same probe command straight over ssh2, ` +
    `once and as many at once (at most ${CHANNELS_PER_CONNECTION} channels per connection, ${DIRECT_NO_DELAY_NOTE})`,
  async run() {
    const sshd = await startSshd();
    try {
      // Unset even if the shell exports them (spawn drops undefined values): the figures are a stock install's, and
      // the direct reference follows the same defaults.
      const backend = await startBackend({
        RESOURCES_CONCURRENCY: undefined,
        RESOURCES_TOOL_TIMEOUT_SECONDS: undefined,
        SSH_MAX_CHANNELS: undefined,
        SSH_MAX_CONNECTIONS_PER_SERVER: undefined,
        // The history sampler would probe every server every 30 s, in the middle of a timed call or of the direct
        // reference, and open the connections a first call is meant to open.
        METRICS_INTERVAL_SECONDS: '0',
      });
      try {
        const measured: Measurement[] = [];
        const ids: number[] = [];
        await addServers(backend.baseUrl, sshd, ids, BATCH_SIZES[0]);
        const single = { label: 'backend GET /api/servers/:id/resources', servers: 1, calls: SINGLE_CALLS, opens: 1 };
        measured.push(await measure(backendCall(`${backend.baseUrl}/api/servers/${ids[0]}/resources`, 'GET'), single));
        // The pool keeps one connection per server (each probe is one channel): a batch's first call opens those of the
        // servers no call has measured yet.
        let warmServers = 1;
        for (const size of BATCH_SIZES) {
          await addServers(backend.baseUrl, sshd, ids, size);
          const batch = { label: 'backend POST /api/servers/resources', servers: size, calls: BATCH_CALLS, opens: size - warmServers };
          measured.push(await measure(backendCall(`${backend.baseUrl}/api/servers/resources`, 'POST'), batch));
          warmServers = size;
        }
        // After the backend, not interleaved: both run on the one sshd.
        const direct = [await measureDirect(sshd, 1, SINGLE_CALLS)];
        for (const size of BATCH_SIZES) direct.push(await measureDirect(sshd, size, BATCH_CALLS));
        return report(measured, direct);
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

function backendCall(url: string, method: string): () => Promise<Resources[]> {
  return async () => {
    const value = await requestJson<Resources | Resources[]>(url, method, 200);
    return Array.isArray(value) ? value : [value];
  };
}

/**
 * The floor for `size` servers: PROBE_COMMAND `size` times at once over ssh2, on ceil(size / CHANNELS_PER_CONNECTION)
 * connections with TCP_NODELAY that the first call opens, each carrying at most CHANNELS_PER_CONNECTION channels.
 */
async function measureDirect(sshd: TestSshd, size: number, calls: number): Promise<Measurement> {
  const clients = Array.from({ length: Math.ceil(size / CHANNELS_PER_CONNECTION) }, () => new Client());
  let connected: Promise<Client[]> | undefined;
  const call = async (): Promise<Resources[]> => {
    connected ??= Promise.all(clients.map((client) => connectNoDelay(sshd, client)));
    const open = await connected;
    return Promise.all(Array.from({ length: size }, (_, n) => probeDirect(open[Math.floor(n / CHANNELS_PER_CONNECTION)])));
  };
  const label = size === 1 ? 'direct ssh2 exec of the probe' : `direct ssh2 exec of the probe, ${size} at once`;
  try {
    return await measure(call, { label, servers: size, calls, opens: clients.length });
  } finally {
    for (const client of clients) client.end();
  }
}

/** One probe read as the backend reads it: a numeric cpu_usage, and an error when the command failed. */
async function probeDirect(client: Client): Promise<Resources> {
  const { output, code } = await execDirect(client, PROBE_COMMAND, false);
  const { cpu_usage } = parseResourceProbe(output).metrics;
  return code === 0 ? { cpu_usage } : { cpu_usage, error: `Probe exited with status ${code}` };
}

/** One first call (it opens the connections: the cold figure), then `calls` timed warm ones; every answer is checked. */
async function measure(call: () => Promise<Resources[]>, plan: CallPlan): Promise<Measurement> {
  const { label, servers, calls } = plan;
  const measurement: Measurement = { ...plan, firstMs: 0, latencies: [], failed: 0, entries: 0, errors: new Set() };
  for (let n = 0; n <= calls; n++) {
    const { ms, value: entries } = await timed(call);
    if (n === 0) measurement.firstMs = ms;
    else measurement.latencies.push(ms);
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

function report(backend: Measurement[], direct: Measurement[]): ScenarioResult {
  const [single, ...batches] = backend;
  const largest = batches[batches.length - 1];
  const toDirect: Verdict = {
    measure: `resources warm batch ${largest.servers} / direct ${largest.servers} at once (medians)`,
    value: median(largest.latencies) / median(direct[direct.length - 1].latencies),
    unit: 'x',
    target: { bound: '<=', value: TARGET_MAX_RATIO_TO_DIRECT },
  };
  const toSingle = {
    value: median(largest.latencies) / median(single.latencies),
    target: { bound: '<=', value: EARLIER_MAX_RATIO_TO_SINGLE },
  } as const;
  const measurements = [...backend, ...direct];
  const table = renderTable(
    ['path', 'servers', 'first call opens', 'first ms', 'warm calls', 'median ms', 'min ms', 'max ms', 'failed entries'],
    measurements.map(({ label, servers, opens, firstMs, latencies, failed, entries }) => [
      label,
      String(servers),
      `${opens} conn.`,
      ms(firstMs),
      String(latencies.length),
      ms(median(latencies)),
      ms(Math.min(...latencies)),
      ms(Math.max(...latencies)),
      `${failed}/${entries}`,
    ]),
  );
  const versus = backend.map((ours, n) => {
    const floor = direct[n];
    const what = ours.servers === 1 ? 'single' : `batch ${ours.servers}`;
    return (
      `ratio ${what} backend/direct: warm ${(median(ours.latencies) / median(floor.latencies)).toFixed(2)}x (medians), ` +
      `first call ${(ours.firstMs / floor.firstMs).toFixed(2)}x (opening ${ours.opens} vs ${floor.opens} connections)`
    );
  });
  const errors = measurements.flatMap(({ label, servers, errors }) => [...errors].map((error) => `  ${label} (${servers}): ${error}`));
  const text = [
    "every probe samples /proc/stat 0.5 s apart; one sshd on loopback serves every server; RESOURCES_CONCURRENCY at the backend's default " +
      `(${DEFAULTS.RESOURCES_CONCURRENCY}); the metrics sampler off (METRICS_INTERVAL_SECONDS=0)`,
    `direct: the backend's probe command (bash -l -c, no pty) over ssh2 connections with ${DIRECT_NO_DELAY_NOTE} (setNoDelay once ready), ` +
      `all of a batch at once, at most ${CHANNELS_PER_CONNECTION} channels per connection (SSH_MAX_CHANNELS); ` +
      `SSH_MAX_CONNECTIONS_PER_SERVER (${DEFAULTS.SSH_MAX_CONNECTIONS_PER_SERVER}) does not bind: the backend keeps one connection per server`,
    'each row: a first (cold) call that opens the connections not open yet, then warm calls on them; failed entries count the first call too',
    '',
    table,
    '',
    ...versus,
    `ratio backend batch ${largest.servers} / direct ${largest.servers} at once (warm medians): ${toDirect.value.toFixed(2)}x ${targetNote(toDirect)}`,
    `ratio backend batch ${largest.servers} / single (warm medians): ${toSingle.value.toFixed(2)}x ` +
      `(earlier target <= ${EARLIER_MAX_RATIO_TO_SINGLE}x: ${verdictWord(toSingle)})`,
    errors.length === 0 ? 'failures: none' : ['FAILURES (no numeric cpu_usage, or an error):', ...errors].join('\n'),
  ].join('\n');
  const largestDirect = direct[direct.length - 1];
  const reported: Figure[] = [
    { measure: `resources cold batch ${largest.servers}: first call`, value: largest.firstMs, unit: 'ms' },
    {
      measure: `resources cold batch ${largest.servers} / direct ${largest.servers} at once, first calls`,
      value: largest.firstMs / largestDirect.firstMs,
      unit: 'x',
    },
  ];
  return { report: text, verdicts: [toDirect], reported };
}

const ms = (value: number) => value.toFixed(0);
