import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'ssh2';
import { Agent, request } from 'undici';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, percentile, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { ChildServers, startInChild } from '../child';
import { Figure, isMet, Scenario, ScenarioResult, Verdict } from '../scenario';
import { connectNoDelay, DIRECT_NO_DELAY_NOTE, execDirect, SshdAddress } from '../ssh-direct';
import { renderTable } from '../table';

/** Runs per path, the paths in turn, so that a slow spell of the shared machine hits them all alike. */
const RUNS = 200;
/** Opens the connections and warms every path's code; not measured. */
const WARMUP_RUNS = 5;
const COMMAND = 'echo hi';
/** What the backend's executor sends for COMMAND (login shell, single-quoted). */
const DIRECT_COMMAND = "bash -l -c 'echo hi'";
/** Issue #19: the backend's p50 at most this much above the direct exec's. */
const TARGET_MAX_OVERHEAD_MS = 2;

interface ExecuteResponse {
  output: string;
  error: string;
  success: boolean;
}

/** Latencies of each path, measured in turn. */
interface Latencies {
  backend: number[];
  /** The floor: the command straight over ssh2. */
  direct: number[];
  /** The same exec behind a bare HTTP server: what one HTTP hop in front of it costs on this machine. */
  bareHttp: number[];
}

export const taskExec: Scenario = {
  name: 'task-exec',
  description:
    `${RUNS} sequential POST /api/tasks/:id/execute ("${COMMAND}") ` +
    `against ssh2 exec of the same command on an already-open connection (${DIRECT_NO_DELAY_NOTE}), ` +
    'and against the same exec behind a bare HTTP server',
  async run() {
    const sshd = await startSshd();
    try {
      const bare = await startInChild(__filename, 'bareHttpExecInChild', { sshd: addressOf(sshd) });
      try {
        const backend = await startBackend();
        try {
          const client = new Agent();
          const direct = await connectNoDelay(sshd);
          try {
            const paths = {
              backend: await prepareTask(backend.baseUrl, sshd, client),
              direct: directExec(direct),
              bareHttp: execCall(`${bare.urls[0]}/execute`, client),
            };
            return report(await measureInTurn(paths));
          } finally {
            direct.end();
            await client.close();
          }
        } finally {
          await backend.stop();
        }
      } finally {
        await bare.stop();
      }
    } finally {
      await sshd.stop();
    }
  },
};

const addressOf = ({ host, port, username, privateKey }: TestSshd): SshdAddress => ({ host, port, username, privateKey });

/**
 * Runs in a child process of its own, as the backend runs: a bare `node:http` server (noDelay) that, for every
 * request, runs DIRECT_COMMAND with a pty over one open ssh2 connection (TCP_NODELAY) and answers with its output as
 * JSON, as the backend answers an execute. No database, no framework: the floor for an HTTP call that runs a command.
 */
export async function bareHttpExecInChild({ sshd }: { sshd: SshdAddress }): Promise<ChildServers> {
  const ssh = await connectNoDelay(sshd);
  let count = 0;
  const server = createServer({ noDelay: true }, (req, res) => {
    count++;
    req.resume();
    execDirect(ssh, DIRECT_COMMAND, true).then(
      ({ output, code }) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ output, error: '', success: code === 0, exit_status: code }));
      },
      (error: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return { urls: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`], requestCount: () => count };
}

/**
 * Creates the server and a disabled task (the scheduler never runs it alongside) and returns the call that executes
 * it once.
 */
async function prepareTask(baseUrl: string, sshd: TestSshd, client: Agent): Promise<() => Promise<void>> {
  const serverId = await createSshServer(baseUrl, sshd, 'gpu-1');
  const { id } = await requestJson<{ id: number }>(`${baseUrl}/api/tasks`, 'POST', 201, {
    name: 'bench echo',
    command: COMMAND,
    server_id: serverId,
    schedule_type: 'once',
    enabled: false,
  });
  return execCall(`${baseUrl}/api/tasks/${id}/execute`, client);
}

/**
 * One POST to `url` with undici's request on `client`'s keep-alive connection, the leanest HTTP client at hand (fetch
 * adds about a millisecond of its own per call); checks that the command ran and printed `hi`.
 */
function execCall(url: string, client: Agent): () => Promise<void> {
  return async () => {
    const { statusCode, body } = await request(url, { method: 'POST', dispatcher: client });
    const text = await body.text();
    if (statusCode !== 200) throw new Error(`POST ${url} answered ${statusCode}: ${text}`);
    const result = JSON.parse(text) as ExecuteResponse;
    if (!result.success || result.output.trim() !== 'hi') throw new Error(`Task run failed: ${text}`);
  };
}

/** The reference: DIRECT_COMMAND on `client`, one open connection with TCP_NODELAY set, as the backend's pool sets it. */
function directExec(client: Client): () => Promise<void> {
  return async () => {
    const { output } = await execDirect(client, DIRECT_COMMAND, true);
    if (output.trim() !== 'hi') throw new Error(`Direct exec printed ${JSON.stringify(output)}`);
  };
}

/** WARMUP_RUNS unmeasured calls of each path, then the latencies of RUNS calls of each, one of each in turn. */
async function measureInTurn(paths: Record<keyof Latencies, () => Promise<void>>): Promise<Latencies> {
  const names = Object.keys(paths) as (keyof Latencies)[];
  for (let n = 0; n < WARMUP_RUNS; n++) for (const name of names) await paths[name]();
  const latencies: Latencies = { backend: [], direct: [], bareHttp: [] };
  for (let n = 0; n < RUNS; n++) for (const name of names) latencies[name].push((await timed(paths[name])).ms);
  return latencies;
}

function report({ backend, direct, bareHttp }: Latencies): ScenarioResult {
  const row = (label: string, latencies: number[]) => [label, ...[50, 95, 99].map((p) => ms(percentile(latencies, p)))];
  const p50 = (latencies: number[]) => percentile(latencies, 50);
  const overhead: Verdict = {
    measure: 'task-exec p50: backend - direct',
    value: p50(backend) - p50(direct),
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_OVERHEAD_MS },
  };
  const text = [
    `${RUNS} runs per row, the three paths in turn, after ${WARMUP_RUNS} warm-up runs of each; sshd on loopback; ` +
      'backend and bare HTTP server called with undici request on a keep-alive connection; ' +
      `direct: ${DIRECT_COMMAND} with { pty: true } on a connection with ${DIRECT_NO_DELAY_NOTE} (setNoDelay once ready); ` +
      'bare HTTP exec: the same direct exec behind a node:http server (noDelay) in a process of its own, answering JSON',
    '',
    renderTable(
      ['path', 'p50 ms', 'p95 ms', 'p99 ms'],
      [
        row('backend POST /api/tasks/:id/execute', backend),
        row('direct ssh2 exec, TCP_NODELAY', direct),
        row('bare HTTP exec (floor reference)', bareHttp),
      ],
    ),
    '',
    `p50 backend - direct: ${ms(overhead.value)} ms (target <= ${TARGET_MAX_OVERHEAD_MS} ms: ${isMet(overhead) ? 'met' : 'MISSED'}); ` +
      `ratio ${(p50(backend) / p50(direct)).toFixed(2)}x`,
    `p50 bare HTTP exec - direct, what one plain HTTP hop in front of the exec costs here: ${ms(p50(bareHttp) - p50(direct))} ms`,
    `p50 backend - bare HTTP exec, the framework and the run's bookkeeping: ${ms(p50(backend) - p50(bareHttp))} ms`,
    "the backend's figure includes the HTTP round trip and the database work of a run: the task read and the audit " +
      'event inserted before the command, its task_runs row inserted and the task marked executing while it runs, ' +
      'then the row finished and the task updated in one transaction',
  ].join('\n');
  const reported: Figure[] = [
    { measure: 'task-exec p50: bare HTTP exec - direct (floor reference)', value: p50(bareHttp) - p50(direct), unit: 'ms' },
    { measure: 'task-exec p50: backend - bare HTTP exec', value: p50(backend) - p50(bareHttp), unit: 'ms' },
  ];
  return { report: text, verdicts: [overhead], reported };
}

const ms = (value: number) => value.toFixed(2);
