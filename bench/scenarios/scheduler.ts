import pLimit from 'p-limit';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'ssh2';
import { EnvironmentVariables } from '../../src/config/environment';
import { loginShellCommand } from '../../src/ssh/shell-quote';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { cpuMsOf, createSshServer, percentile, requestJson, timed } from '../api';
import { startBackend } from '../backend';
import { Figure, Scenario, Verdict } from '../scenario';
import { connectNoDelay, DIRECT_NO_DELAY_NOTE, execDirect } from '../ssh-direct';
import { targetNote } from '../summary';
import { renderTable } from '../table';

const TASKS = 1000;
const COMMAND = 'true';
/** Time left after creating the tasks before their common slot, so creation does not overlap the run. */
const LEAD_MS = 5000;
const FINISH_LIMIT_MS = 300_000;
/** How often the bench asks whether the last task has run, and then whether every task has. */
const WAIT_POLL_MS = 1000;
/** Issue #19: all tasks finished within this multiple of the same commands run straight over ssh2. */
const TARGET_MAX_RATIO = 1.3;
/** The backend runs with its defaults, and the direct floor runs at the same parallelism. */
const DEFAULTS = new EnvironmentVariables();
const PARALLELISM = Math.min(DEFAULTS.TASKS_MAX_PARALLEL_PER_SERVER, DEFAULTS.TASKS_MAX_PARALLEL);
const CHANNELS_PER_CONNECTION = DEFAULTS.SSH_MAX_CHANNELS;
/** The executor's pty, so the direct floor starts the same remote session. */
const EXEC_PTY = { term: 'xterm', cols: 200, rows: 50 };

interface Run {
  status: string;
  scheduled_for: string | null;
  started_at: string;
  finished_at: string | null;
}

interface ScheduledRuns {
  /** From the due second until the last run finished. */
  allFinishedMs: number;
  runs: Run[];
  /** The backend's CPU time (all its threads) over the same span. */
  backendCpuMs: number;
}

export const scheduler: Scenario = {
  name: 'scheduler',
  description:
    `${TASKS} once tasks ("${COMMAND}") due in the same second, all on one server (one real sshd): time from the due ` +
    `second until all finished, against the same ${TASKS} commands run straight over ssh2, ${PARALLELISM} at a time ` +
    `(${DIRECT_NO_DELAY_NOTE}); start − due per run`,
  async run() {
    const sshd = await startSshd();
    try {
      const backend = await runScheduled(sshd);
      const directMs = await runDirect(sshd);
      return report(backend, directMs);
    } finally {
      await sshd.stop();
    }
  },
};

/** Creates TASKS once tasks due in one second ahead, waits until all have run, and returns their runs. */
async function runScheduled(sshd: TestSshd): Promise<ScheduledRuns> {
  const backend = await startBackend({ SCHEDULER_ENABLED: 'true', SCHEDULER_POLL_MS: '250' });
  try {
    const serverId = await createSshServer(backend.baseUrl, sshd, 'gpu');
    // A slot far enough ahead for all tasks to be created first; each task plans the same instant.
    const due = new Date(Math.ceil((Date.now() + LEAD_MS + TASKS * 5) / 1000) * 1000);
    const ids: number[] = [];
    for (let n = 0; n < TASKS; n++) {
      const { id } = await requestJson<{ id: number }>(`${backend.baseUrl}/api/tasks`, 'POST', 201, {
        name: `t${n}`,
        command: COMMAND,
        server_id: serverId,
        schedule_type: 'once',
        run_at: due.toISOString(),
      });
      ids.push(id);
    }
    if (Date.now() >= due.getTime()) throw new Error('creating the tasks took longer than the lead time');
    await delay(due.getTime() - Date.now());
    const cpuAtDue = await cpuMsOf(backend.pid);
    await waitUntilAllRan(backend.baseUrl, ids[ids.length - 1], due.getTime() + FINISH_LIMIT_MS);
    const backendCpuMs = (await cpuMsOf(backend.pid)) - cpuAtDue;
    const runs = await Promise.all(
      ids.map(async (id) => (await requestJson<Run[]>(`${backend.baseUrl}/api/tasks/${id}/runs?limit=1`, 'GET', 200))[0]),
    );
    const lastFinish = Math.max(...runs.map((run) => Date.parse(run.finished_at!)));
    return { allFinishedMs: lastFinish - due.getTime(), runs, backendCpuMs };
  } finally {
    await backend.stop();
  }
}

/**
 * Waits until no task is waiting or running: first until the last task's run has finished (one task's runs, a cheap
 * read; runs start in the order of the tasks), then polls the task list, whose rebuild, after every run changed it,
 * would otherwise take the backend's time during the runs.
 */
async function waitUntilAllRan(baseUrl: string, lastTaskId: number, deadline: number): Promise<void> {
  for (;;) {
    const [latest] = await requestJson<Run[]>(`${baseUrl}/api/tasks/${lastTaskId}/runs?limit=1`, 'GET', 200);
    if (latest?.finished_at) break;
    if (Date.now() > deadline) throw new Error(`task ${lastTaskId} did not run in time`);
    await delay(WAIT_POLL_MS);
  }
  for (;;) {
    const tasks = await requestJson<{ last_run: string | null; status: string }[]>(`${baseUrl}/api/tasks`, 'GET', 200);
    const pending = tasks.filter((task) => task.last_run === null || task.status === 'executing').length;
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} of ${tasks.length} tasks did not run in time`);
    await delay(WAIT_POLL_MS);
  }
}

/** The floor: the same commands over ssh2, PARALLELISM at a time, on connections opened beforehand. */
async function runDirect(sshd: TestSshd): Promise<number> {
  const clients: Client[] = [];
  try {
    for (let n = 0; n < Math.ceil(PARALLELISM / CHANNELS_PER_CONNECTION); n++) clients.push(await connectNoDelay(sshd));
    const limit = pLimit(PARALLELISM);
    const command = loginShellCommand(COMMAND);
    const { ms } = await timed(() =>
      Promise.all(
        Array.from({ length: TASKS }, (_, n) =>
          limit(async () => {
            const { code } = await execDirect(clients[n % clients.length], command, EXEC_PTY);
            if (code !== 0) throw new Error(`Direct exec of ${command} exited with ${code}`);
          }),
        ),
      ),
    );
    return ms;
  } finally {
    for (const client of clients) client.end();
  }
}

function report(backend: ScheduledRuns, directMs: number) {
  const ratio = backend.allFinishedMs / directMs;
  const verdict: Verdict = {
    measure: `scheduler ${TASKS} due tasks: all finished / direct floor`,
    value: ratio,
    unit: 'x',
    target: { bound: '<=', value: TARGET_MAX_RATIO },
  };
  const delays = backend.runs.map((run) => Date.parse(run.started_at) - Date.parse(run.scheduled_for!));
  const failed = backend.runs.filter((run) => run.status !== 'completed').length;
  const text = [
    `backend: SCHEDULER_POLL_MS=250, TASKS_MAX_PARALLEL_PER_SERVER=${DEFAULTS.TASKS_MAX_PARALLEL_PER_SERVER} and ` +
      `TASKS_MAX_PARALLEL=${DEFAULTS.TASKS_MAX_PARALLEL} (defaults); direct: ${loginShellCommand(COMMAND)} with a pty, ` +
      `${PARALLELISM} at a time over connections of at most ${CHANNELS_PER_CONNECTION} channels`,
    '',
    renderTable(
      ['path', 'commands', 'all finished ms', 'not completed'],
      [
        ['backend: due second until the last run finished', String(TASKS), String(backend.allFinishedMs), String(failed)],
        ['direct ssh2 exec', String(TASKS), String(Math.round(directMs)), '0'],
      ],
    ),
    '',
    `ratio backend / direct: ${ratio.toFixed(2)}x ${targetNote(verdict)}`,
    `start − due: first ${Math.min(...delays)} ms (the poll, the claim and the audit events before any run), ` +
      `p50 ${percentile(delays, 50)} ms, p99 ${percentile(delays, 99)} ms, max ${Math.max(...delays)} ms ` +
      `(includes waiting for one of the server's ${PARALLELISM} slots)`,
    `backend CPU from the due second until all had run: ${backend.backendCpuMs} ms, ` +
      `${(backend.backendCpuMs / TASKS).toFixed(2)} ms per run (all threads; the bench's polls for the end, one a second, included)`,
  ].join('\n');
  const reported: Figure[] = [50, 99].map((p) => ({
    measure: `scheduler ${TASKS} due tasks: start - due p${p}`,
    value: percentile(delays, p),
    unit: 'ms',
  }));
  return { report: text, verdicts: [verdict], reported };
}
