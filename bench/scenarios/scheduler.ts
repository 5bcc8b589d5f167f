import { setTimeout as delay } from 'node:timers/promises';
import { startSshd } from '../../test/helpers/sshd';
import { createSshServer, percentile, requestJson } from '../api';
import { startBackend } from '../backend';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const TASKS = 1000;
/** Time left after creating the tasks before their common slot, so creation does not overlap the run. */
const LEAD_MS = 5000;
const FINISH_LIMIT_MS = 120_000;

interface Run {
  status: string;
  scheduled_for: string | null;
  started_at: string;
  finished_at: string | null;
}

export const scheduler: Scenario = {
  name: 'scheduler',
  description: `${TASKS} once tasks due in the same second, all on one real sshd: time until all finished, and start − due`,
  async run() {
    const sshd = await startSshd();
    const backend = await startBackend({ SCHEDULER_ENABLED: 'true', SCHEDULER_POLL_MS: '250' });
    try {
      const serverId = await createSshServer(backend.baseUrl, sshd, 'gpu');
      // A slot far enough ahead for all tasks to be created first; each task plans the same instant.
      const due = new Date(Math.ceil((Date.now() + LEAD_MS + TASKS * 5) / 1000) * 1000);
      const ids: number[] = [];
      for (let n = 0; n < TASKS; n++) {
        const { id } = await requestJson<{ id: number }>(`${backend.baseUrl}/api/tasks`, 'POST', 201, {
          name: `t${n}`,
          command: 'true',
          server_id: serverId,
          schedule_type: 'once',
          run_at: due.toISOString(),
        });
        ids.push(id);
      }
      if (Date.now() >= due.getTime()) throw new Error('creating the tasks took longer than the lead time');
      const runs = await waitForRuns(backend.baseUrl, ids, due.getTime() + FINISH_LIMIT_MS);
      const delays = runs.map((run) => Date.parse(run.started_at) - Date.parse(run.scheduled_for!));
      const lastFinish = Math.max(...runs.map((run) => Date.parse(run.finished_at!)));
      const failed = runs.filter((run) => run.status !== 'completed').length;
      return [
        renderTable(
          ['tasks', 'all finished after due (ms)', 'start − due p50 ms', 'p99 ms', 'max ms', 'not completed'],
          [
            [
              String(TASKS),
              String(lastFinish - due.getTime()),
              String(percentile(delays, 50)),
              String(percentile(delays, 99)),
              String(Math.max(...delays)),
              String(failed),
            ],
          ],
        ),
        'runs start at most TASKS_MAX_PARALLEL (16) at a time; start − due includes that queueing',
      ].join('\n');
    } finally {
      await backend.stop();
      await sshd.stop();
    }
  },
};

/** Polls each task's history until every task has one finished run. */
async function waitForRuns(baseUrl: string, ids: number[], deadline: number): Promise<Run[]> {
  const done = new Map<number, Run>();
  while (done.size < ids.length) {
    if (Date.now() > deadline) throw new Error(`only ${done.size} of ${ids.length} tasks ran in time`);
    for (const id of ids.filter((taskId) => !done.has(taskId))) {
      const [run] = await requestJson<Run[]>(`${baseUrl}/api/tasks/${id}/runs?limit=1`, 'GET', 200);
      if (run?.finished_at) done.set(id, run);
    }
    if (done.size < ids.length) await delay(500);
  }
  return [...done.values()];
}
