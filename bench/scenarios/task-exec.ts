import { Client } from 'ssh2';
import { Agent, request } from 'undici';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, percentile, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { isMet, Scenario, ScenarioResult, Verdict } from '../scenario';
import { connectNoDelay, DIRECT_NO_DELAY_NOTE, execDirect } from '../ssh-direct';
import { renderTable } from '../table';

/** Runs per path, alternating backend and direct, so that a slow spell of the shared machine hits both alike. */
const RUNS = 200;
/** Opens the pooled connection and warms both sides' code paths; not measured. */
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

export const taskExec: Scenario = {
  name: 'task-exec',
  description:
    `${RUNS} sequential POST /api/tasks/:id/execute ("${COMMAND}") ` +
    `against ssh2 exec of the same command on an already-open connection (${DIRECT_NO_DELAY_NOTE})`,
  async run() {
    const sshd = await startSshd();
    try {
      const backend = await startBackend();
      try {
        const client = new Agent();
        const direct = await connectNoDelay(sshd);
        try {
          const [backendMs, directMs] = await measureAlternately(await prepareTask(backend.baseUrl, sshd, client), directExec(direct));
          return report(backendMs, directMs);
        } finally {
          direct.end();
          await client.close();
        }
      } finally {
        await backend.stop();
      }
    } finally {
      await sshd.stop();
    }
  },
};

/**
 * Creates the server and a disabled task (the scheduler never runs it alongside); the returned call executes it once
 * with undici's request on `client`'s keep-alive connection, the leanest HTTP client at hand (fetch adds about a
 * millisecond of its own per call), and checks the result.
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
  const url = `${baseUrl}/api/tasks/${id}/execute`;
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

/** WARMUP_RUNS unmeasured calls of each, then the latencies of RUNS calls of each, one of each in turn. */
async function measureAlternately(backend: () => Promise<void>, direct: () => Promise<void>): Promise<[number[], number[]]> {
  for (let n = 0; n < WARMUP_RUNS; n++) {
    await backend();
    await direct();
  }
  const backendMs: number[] = [];
  const directMs: number[] = [];
  for (let n = 0; n < RUNS; n++) {
    backendMs.push((await timed(backend)).ms);
    directMs.push((await timed(direct)).ms);
  }
  return [backendMs, directMs];
}

function report(backendMs: number[], directMs: number[]): ScenarioResult {
  const row = (label: string, latencies: number[]) => [label, ...[50, 95, 99].map((p) => ms(percentile(latencies, p)))];
  const p50 = (latencies: number[]) => percentile(latencies, 50);
  const ratio = p50(backendMs) / p50(directMs);
  const overhead: Verdict = {
    measure: 'task-exec p50: backend - direct',
    value: p50(backendMs) - p50(directMs),
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_OVERHEAD_MS },
  };
  const text = [
    `${RUNS} runs per row, backend and direct in turn, after ${WARMUP_RUNS} warm-up runs of each; sshd on loopback; ` +
      'backend called with undici request on a keep-alive connection; ' +
      `direct: ${DIRECT_COMMAND} with { pty: true } on a connection with ${DIRECT_NO_DELAY_NOTE} (setNoDelay once ready)`,
    '',
    renderTable(
      ['path', 'p50 ms', 'p95 ms', 'p99 ms'],
      [row('backend POST /api/tasks/:id/execute', backendMs), row('direct ssh2 exec, TCP_NODELAY', directMs)],
    ),
    '',
    `p50 backend - direct: ${ms(overhead.value)} ms (target <= ${TARGET_MAX_OVERHEAD_MS} ms: ${isMet(overhead) ? 'met' : 'MISSED'}); ` +
      `ratio ${ratio.toFixed(2)}x`,
    "the backend's figure includes the HTTP round trip and the database work of a run: the task read and the audit " +
      'event inserted before the command, its task_runs row inserted and the task marked executing while it runs, ' +
      'then the row finished and the task updated in one transaction',
  ].join('\n');
  return { report: text, verdicts: [overhead] };
}

const ms = (value: number) => value.toFixed(2);
