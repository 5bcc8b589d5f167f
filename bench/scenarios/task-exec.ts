import { Client } from 'ssh2';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, percentile, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const RUNS = 200;
/** Opens the pooled connection and warms both sides' code paths; not measured. */
const WARMUP_RUNS = 5;
const COMMAND = 'echo hi';
/** What the backend's executor sends for COMMAND (login shell, single-quoted). */
const DIRECT_COMMAND = "bash -l -c 'echo hi'";
const TARGET_MAX_RATIO = 1.2;

interface ExecuteResponse {
  output: string;
  error: string;
  success: boolean;
}

export const taskExec: Scenario = {
  name: 'task-exec',
  description:
    `${RUNS} sequential POST /api/tasks/:id/execute ("${COMMAND}") ` + 'against ssh2 exec of the same command on an already-open connection',
  async run() {
    const sshd = await startSshd();
    try {
      const backend = await startBackend();
      try {
        // One block after the other, not interleaved: with Nagle on, a command's latency depends on the
        // idle time before it on its connection, so interleaving would make each side depend on the other.
        const backendMs = await measure(await prepareTask(backend.baseUrl, sshd));
        const directMs = await measureDirect(sshd, false);
        const noDelayMs = await measureDirect(sshd, true);
        return report(backendMs, directMs, noDelayMs);
      } finally {
        await backend.stop();
      }
    } finally {
      await sshd.stop();
    }
  },
};

/** Creates the server and the task; the returned call executes it once and checks the result. */
async function prepareTask(baseUrl: string, sshd: TestSshd): Promise<() => Promise<void>> {
  const serverId = await createSshServer(baseUrl, sshd, 'gpu-1');
  const { id } = await requestJson<{ id: number }>(`${baseUrl}/api/tasks`, 'POST', 201, {
    name: 'bench echo',
    command: COMMAND,
    server_id: serverId,
    schedule_type: 'once',
  });
  return async () => {
    const result = await requestJson<ExecuteResponse>(`${baseUrl}/api/tasks/${id}/execute`, 'POST', 200);
    // A failed run would time an error path, not the command.
    if (!result.success || result.output.trim() !== 'hi') throw new Error(`Task run failed: ${JSON.stringify(result)}`);
  };
}

/** `noDelay` turns Nagle's algorithm off (ssh2 leaves it on), to show what it costs back-to-back commands. */
async function measureDirect(sshd: TestSshd, noDelay: boolean): Promise<number[]> {
  const client = await connect(sshd);
  try {
    if (noDelay) client.setNoDelay(true);
    return await measure(async () => {
      const output = await exec(client);
      if (output.trim() !== 'hi') throw new Error(`Direct exec printed ${JSON.stringify(output)}`);
    });
  } finally {
    client.end();
  }
}

/** WARMUP_RUNS unmeasured calls, then the latency of RUNS back-to-back ones. */
async function measure(call: () => Promise<void>): Promise<number[]> {
  for (let n = 0; n < WARMUP_RUNS; n++) await call();
  const latencies: number[] = [];
  for (let n = 0; n < RUNS; n++) latencies.push((await timed(call)).ms);
  return latencies;
}

function connect(sshd: TestSshd): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    // `on`, not `once`: ssh2 may emit a second error while tearing down, which must not crash the bench.
    client.on('error', reject);
    client.once('ready', () => resolve(client));
    // The key the backend's server uses too (see createSshServer).
    client.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
  });
}

/** Resolves with the output once the channel closes, as the backend's executor waits for it. */
function exec(client: Client): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(DIRECT_COMMAND, { pty: true }, (error, channel) => {
      if (error) return reject(error);
      let output = '';
      channel.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      channel.once('close', () => resolve(output));
    });
  });
}

function report(backendMs: number[], directMs: number[], noDelayMs: number[]): string {
  const row = (label: string, latencies: number[]) => [label, ...[50, 95, 99].map((p) => ms(percentile(latencies, p)))];
  const p50 = (latencies: number[]) => percentile(latencies, 50);
  const ratio = p50(backendMs) / p50(directMs);
  return [
    `${RUNS} back-to-back runs per row after ${WARMUP_RUNS} warm-up runs; sshd on loopback; direct: ${DIRECT_COMMAND} with { pty: true }`,
    '',
    renderTable(
      ['path', 'p50 ms', 'p95 ms', 'p99 ms'],
      [
        row('backend POST /api/tasks/:id/execute', backendMs),
        row('direct ssh2 exec (ssh2 defaults)', directMs),
        row('direct ssh2 exec, TCP_NODELAY', noDelayMs),
      ],
    ),
    '',
    `p50 ratio backend/direct: ${ratio.toFixed(2)}x (target <= ${TARGET_MAX_RATIO}x: ${ratio <= TARGET_MAX_RATIO ? 'met' : 'MISSED'})`,
    `p50 ratio backend/direct with TCP_NODELAY: ${(p50(backendMs) / p50(noDelayMs)).toFixed(2)}x ` +
      "(for reference: ssh2 leaves Nagle's algorithm on, so back-to-back commands can wait for a delayed ACK)",
    "the backend's figure includes the HTTP round trip and the database work of a run: " +
      'task and server reads, a task_runs row inserted and finished, the task updated twice',
  ].join('\n');
}

const ms = (value: number) => value.toFixed(2);
