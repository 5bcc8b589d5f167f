import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgentServer, TestAgent } from '../../test/helpers/agent-server';
import { median, requestJson } from '../api';
import { startBackend } from '../backend';
import { killChild } from '../child';
import { Scenario, ScenarioResult, Verdict } from '../scenario';
import { targetNote } from '../summary';
import { renderTable } from '../table';

const AGENTS = 50;
/** Each agent answers a deploy this long after spawning, so the fan-out has work to overlap. */
const AGENT_DELAY_MS = 200;
const COMMAND = 'sleep 60';
const ROUNDS = 3;
const POLL_INTERVAL_MS = 10;
const TARGET_MAX_RATIO = 2;

interface ServiceBody {
  deploy_status: string;
  deploy_result: unknown;
}

export const deployFanout: Scenario = {
  name: 'deploy-fanout',
  description:
    `a new service deploying "${COMMAND}" to 1 server against one deploying it to ${AGENTS} servers ` +
    `(a loopback agent each, ${AGENT_DELAY_MS} ms per deploy), until deploy_status is deployed`,
  async run() {
    const loadBefore = loadavg()[0];
    const agents: TestAgent[] = [];
    try {
      // One at a time, so that a failed start leaves every agent started so far in the list to stop.
      while (agents.length < AGENTS) agents.push(await startAgentServer({ delayMs: AGENT_DELAY_MS }));
      const backend = await startBackend();
      try {
        const { baseUrl } = backend;
        const { id: modelId } = await requestJson<{ id: number }>(`${baseUrl}/api/models`, 'POST', 201, { name: 'bench-model' });
        const serverIds: number[] = [];
        for (const agent of agents) serverIds.push(await createServer(baseUrl, agent, serverIds.length + 1));
        const single: number[] = [];
        const all: number[] = [];
        const spawns: number[] = [];
        // Alternating, so that a slow spell of the shared machine hits every measurement alike.
        for (let round = 1; round <= ROUNDS; round++) {
          single.push(await timeDeploy(baseUrl, `single-${round}`, modelId, serverIds.slice(0, 1), agents.slice(0, 1)));
          all.push(await timeDeploy(baseUrl, `all-${round}`, modelId, serverIds, agents));
          spawns.push(await timeSpawns(AGENTS));
        }
        return report(single, all, spawns, [loadBefore, loadavg()[0]]);
      } finally {
        await backend.stop();
      }
    } finally {
      // Kills every `sleep` the agents spawned.
      await Promise.all(agents.map((agent) => agent.stop()));
    }
  },
};

async function createServer(baseUrl: string, agent: TestAgent, n: number): Promise<number> {
  const { id } = await requestJson<{ id: number }>(`${baseUrl}/api/servers`, 'POST', 201, {
    name: `gpu-${n}`,
    host_ip: '127.0.0.1',
    username: 'u',
    agent_port: agent.port,
  });
  return id;
}

/**
 * Creates a service with COMMAND on `serverIds` (which deploys it at once) and returns the milliseconds from
 * the POST until GET shows it deployed; throws unless it is, with the process running on every agent.
 */
async function timeDeploy(baseUrl: string, name: string, modelId: number, serverIds: number[], agents: TestAgent[]): Promise<number> {
  const start = performance.now();
  const { id } = await requestJson<{ id: number }>(`${baseUrl}/api/services`, 'POST', 201, {
    name,
    model_id: modelId,
    server_ids: serverIds,
    deploy_command: COMMAND,
  });
  let service: ServiceBody;
  while ((service = await requestJson<ServiceBody>(`${baseUrl}/api/services/${id}`, 'GET', 200)).deploy_status === 'deploying') {
    await sleep(POLL_INTERVAL_MS);
  }
  const ms = performance.now() - start;
  if (service.deploy_status !== 'deployed') {
    throw new Error(`Service ${name} ended ${service.deploy_status}: ${JSON.stringify(service.deploy_result)}`);
  }
  const idle = agents.filter((agent) => !agent.isRunning(id)).map((agent) => agent.port);
  if (idle.length > 0) throw new Error(`Service ${name} is deployed but not running on the agents at ports ${idle.join(', ')}`);
  return ms;
}

/**
 * Spawns COMMAND `count` times one after another, as the agents do: they all share this process's one thread,
 * and spawn blocks it. Real servers would spawn in parallel, so this is the harness's share of the fan-out.
 */
async function timeSpawns(count: number): Promise<number> {
  const children: ChildProcess[] = [];
  try {
    const start = performance.now();
    while (children.length < count) {
      // The agents' options: detached, so that each is its own process group.
      const child = spawn('bash', ['-c', COMMAND], { detached: true, stdio: 'ignore' });
      children.push(child);
      // Rejects on a failed spawn (an 'error' event).
      await once(child, 'spawn');
    }
    return performance.now() - start;
  } finally {
    // bash execs a lone command, so the pid is the sleep itself.
    await Promise.all(children.map(killChild));
  }
}

function report(single: number[], all: number[], spawns: number[], load: number[]): ScenarioResult {
  const row = (label: string, servers: number, latencies: number[]) => [label, String(servers), latencies.map(ms).join(', '), ms(median(latencies))];
  const rawRatio = median(all) / median(single);
  // Real servers spawn each on their own machine, at once: of the harness's spawns in a row, one is a deploy's own.
  const harnessSpawnsMs = median(spawns) - median(spawns) / AGENTS;
  const ratio: Verdict = {
    measure: `deploy-fanout ${AGENTS} servers / 1 server, the harness's spawns in a row taken out (medians)`,
    value: (median(all) - harnessSpawnsMs) / median(single),
    unit: 'x',
    target: { bound: '<=', value: TARGET_MAX_RATIO },
  };
  const text = [
    `${AGENTS} agents on loopback in the bench process, each really spawning "${COMMAND}" and answering ` +
      `${AGENT_DELAY_MS} ms later; ${ROUNDS} alternating rounds, each deploy a new service; ` +
      `timed from the POST until GET /api/services/:id (polled every ${POLL_INTERVAL_MS} ms) shows deployed`,
    `load average (1 min) at start ${load[0].toFixed(2)}, at end ${load[1].toFixed(2)}`,
    '',
    renderTable(
      ['deploy', 'servers', 'rounds ms', 'median ms'],
      [
        row('to one server', 1, single),
        row('to every server', AGENTS, all),
        row(`baseline: ${AGENTS} spawns in a row in the bench process`, AGENTS, spawns),
      ],
    ),
    '',
    `ratio ${AGENTS} servers / 1 server (medians), as measured: ${rawRatio.toFixed(2)}x`,
    `the ${AGENTS} agents share the bench's one thread, so their spawns run one after another (the baseline), where ` +
      `real servers would each spawn at once; with all but one of those spawns taken out: ` +
      `(${ms(median(all))} - ${ms(harnessSpawnsMs)}) / ${ms(median(single))} = ${ratio.value.toFixed(2)}x ${targetNote(ratio)}`,
    `every deploy ended deployed with "${COMMAND}" running on each of its agents`,
  ].join('\n');
  return { report: text, verdicts: [ratio] };
}

const ms = (value: number) => value.toFixed(0);
