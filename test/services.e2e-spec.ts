import { rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { closedPort } from './helpers/sshd';
import { NestExpressApplication } from '@nestjs/platform-express';
import { io, Socket } from 'socket.io-client';
import request from 'supertest';
import TestAgentHttp from 'supertest/lib/agent';
import { createApplication } from '../src/app.factory';
import { ServiceOperations } from '../src/modules/services/service-operations.service';
import { startAgentServer, TestAgent } from './helpers/agent-server';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';
import { eventually, until } from './helpers/wait';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_ID = 987654;

interface DeployEntry {
  server_id: number;
  server_name: string | null;
  server_ip: string | null;
  success: boolean;
  output?: string;
  error?: string;
  message?: string;
}

interface ServiceBody {
  id: number;
  name: string;
  model_id: number;
  model_name: string | null;
  server_ids: number[];
  deploy_command: string | null;
  deploy_status: string;
  deploy_operation: string | null;
  /** The stored JSON text of the latest deploy or restart's entries, as the old API gave it. */
  deploy_result: string | null;
  created_at: string;
}

interface OperationBody {
  id: number;
  service_id: number;
  operation: string;
  started_by: string | null;
  started_at: string;
  finished_at: string | null;
  command: string | null;
  outcome: string;
  results: DeployEntry[] | null;
  status_after: string | null;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** What the agent itself says about a service (its own API, not the backend's). */
async function agentStatus(agent: TestAgent, id: number): Promise<{ status: string; pid?: number; command?: string }> {
  const response = await fetch(`${agent.url}/service/${id}/status`);
  return (await response.json()) as { status: string; pid?: number; command?: string };
}

const pidIn = (output: string | undefined): number => Number(/pid (\d+)/.exec(output ?? '')?.[1]);

/** Fixtures and shortcuts over one running application. */
function fixtures(getHttp: () => TestAgentHttp) {
  const http = () => getHttp();
  return {
    async model(name = 'jiuge-7b'): Promise<number> {
      return (await http().post('/api/models').send({ name }).expect(201)).body.id;
    },
    async server(agentPort: number, name = `gpu-${agentPort}`): Promise<number> {
      const res = await http().post('/api/servers').send({ name, host_ip: '127.0.0.1', username: 'u', agent_port: agentPort }).expect(201);
      return res.body.id;
    },
    async service(body: Record<string, unknown>): Promise<number> {
      const res = await http().post('/api/services').send(body).expect(201);
      expect(res.body).toEqual({ id: expect.any(Number), message: 'Service created successfully' });
      return res.body.id;
    },
    async get(id: number): Promise<ServiceBody> {
      return (await http().get(`/api/services/${id}`).expect(200)).body;
    },
    async log(id: number): Promise<DeployEntry[]> {
      return (await http().get(`/api/services/${id}/deploy-log`).expect(200)).body;
    },
    async operations(id: number, query = ''): Promise<OperationBody[]> {
      return (await http().get(`/api/services/${id}/operations${query}`).expect(200)).body;
    },
  };
}

describe('services through real agents', () => {
  let t: TestApp;
  let operations: ServiceOperations;
  let agent: TestAgent;
  let agentServerId: number;
  let modelId: number;
  const peers: TestAgent[] = [];
  const f = fixtures(() => t.http);

  const newAgent = async (options: { delayMs?: number; answersHeldUntil?: Promise<unknown> } = {}) => {
    const created = await startAgentServer(options);
    peers.push(created);
    return created;
  };
  const postsTo = (target: TestAgent, id: number) =>
    target.requests.filter((entry) => entry.method === 'POST' && entry.path.startsWith(`/service/${id}/`)).map((entry) => entry.path);

  beforeAll(async () => {
    // Small enough that one test can see the oldest operations go.
    t = await startTestApp({ SERVICE_OPERATIONS_KEEP: '4' });
    operations = t.app.get(ServiceOperations);
    agent = await newAgent();
    agentServerId = await f.server(agent.port, 'gpu-a');
    modelId = await f.model();
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(peers.map((peer) => peer.stop()));
  });

  describe('CRUD', () => {
    it('creates a service offline and, without a deploy command, calls no agent', async () => {
      const before = agent.requests.length;
      const id = await f.service({ name: 'qwen', model_id: modelId, server_ids: [agentServerId] });
      const service = await f.get(id);
      expect(service).toEqual({
        id,
        name: 'qwen',
        model_id: modelId,
        model_name: 'jiuge-7b',
        server_ids: [agentServerId],
        aliases: [],
        deploy_command: null,
        deploy_status: 'offline',
        deploy_operation: null,
        deploy_result: null,
        created_at: expect.stringMatching(ISO_UTC),
      });
      expect(Date.now() - Date.parse(service.created_at)).toBeLessThan(60_000);
      await operations.settled(id);
      expect(agent.requests.slice(before).filter((entry) => entry.method === 'POST')).toEqual([]);
      expect(await f.log(id)).toEqual([]);
    });

    it('lists services newest first, with model_name and server_ids as an array of ints', async () => {
      const other = await newAgent();
      const otherServer = await f.server(other.port);
      // Not in id order: the operator's order is kept.
      const older = await f.service({ name: 'older', model_id: modelId, server_ids: [otherServer, agentServerId] });
      const newer = await f.service({ name: 'newer', model_id: modelId, server_ids: [] });
      const ours = (list: ServiceBody[]) => list.filter((service) => service.id === older || service.id === newer);

      const listed = ours((await t.http.get('/api/services').expect(200)).body);
      expect(listed.map((service) => service.name)).toEqual(['newer', 'older']);
      expect(listed[1]).toMatchObject({ model_name: 'jiuge-7b', server_ids: [otherServer, agentServerId], deploy_status: 'offline' });
      expect((await f.get(older)).server_ids).toEqual([otherServer, agentServerId]);
      expect(listed[0].server_ids).toEqual([]);
      for (const service of listed) expect(service.created_at).toMatch(ISO_UTC);

      // The order is by creation time, not by id.
      await t.sql(`UPDATE services SET created_at = ${placeholder(1)} WHERE id = ${placeholder(2)}`, ['2030-01-01 00:00:00.000', older]);
      const reordered = ours((await t.http.get('/api/services').expect(200)).body);
      expect(reordered.map((service) => service.name)).toEqual(['older', 'newer']);
      expect(reordered[0].created_at).toBe('2030-01-01T00:00:00.000Z');
    });

    it('updates only the fields sent and never redeploys', async () => {
      const second = await newAgent();
      const secondServer = await f.server(second.port);
      const id = await f.service({ name: 'llama', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      const pid = (await agentStatus(agent, id)).pid;
      const otherModel = await f.model('llama-70b');

      await t.http.put(`/api/services/${id}`).send({ name: 'llama-renamed' }).expect(200, { message: 'Service updated successfully' });
      expect(await f.get(id)).toMatchObject({
        name: 'llama-renamed',
        model_id: modelId,
        server_ids: [agentServerId],
        deploy_command: 'sleep 60',
        deploy_status: 'deployed',
      });

      await t.http
        .put(`/api/services/${id}`)
        .send({ deploy_command: 'sleep 61', model_id: otherModel, server_ids: [secondServer, agentServerId], aliases: ['llama3:70b'] })
        .expect(200);
      await operations.settled(id);
      expect(await f.get(id)).toMatchObject({
        name: 'llama-renamed',
        model_id: otherModel,
        model_name: 'llama-70b',
        server_ids: [secondServer, agentServerId],
        aliases: ['llama3:70b'],
        deploy_command: 'sleep 61',
        deploy_status: 'deployed',
      });
      // Neither agent was asked to deploy again: the old process still runs the old command.
      expect(postsTo(agent, id)).toEqual([`/service/${id}/deploy`]);
      expect(postsTo(second, id)).toEqual([]);
      expect(await agentStatus(agent, id)).toMatchObject({ status: 'running', pid, command: 'sleep 60' });
    });

    it('accepts, on create and update, the read-only fields its own GET returns, and ignores them', async () => {
      const id = await f.service({
        name: 'echo',
        model_id: modelId,
        server_ids: [],
        id: 424242,
        deploy_status: 'deployed',
        deploy_result: [{ server_id: 1 }],
        model_name: 'bogus',
        created_at: '2000-01-01T00:00:00.000Z',
      });
      expect(id).not.toBe(424242);
      const service = await f.get(id);
      expect(service).toMatchObject({ deploy_status: 'offline', deploy_result: null, model_name: 'jiuge-7b' });

      // The admin UI sends back what it received, edited.
      await t.http
        .put(`/api/services/${id}`)
        .send({ ...service, name: 'echo-2', deploy_status: 'deployed', model_name: 'bogus', created_at: '2000-01-01T00:00:00.000Z' })
        .expect(200);
      expect(await f.get(id)).toEqual({ ...service, name: 'echo-2' });
    });

    it('refuses unknown model and server ids with 400 naming them', async () => {
      const count = async () => (await t.http.get('/api/services').expect(200)).body.length;
      const before = await count();

      const badModel = await t.http.post('/api/services').send({ name: 'x', model_id: UNKNOWN_ID, server_ids: [] }).expect(400);
      expect(badModel.body.error).toContain(String(UNKNOWN_ID));
      expect(badModel.body.error).toMatch(/model_id/);

      const badServers = await t.http
        .post('/api/services')
        .send({ name: 'x', model_id: modelId, server_ids: [agentServerId, UNKNOWN_ID, UNKNOWN_ID + 1], deploy_command: 'sleep 60' })
        .expect(400);
      expect(badServers.body.error).toContain(String(UNKNOWN_ID));
      expect(badServers.body.error).toContain(String(UNKNOWN_ID + 1));
      expect(badServers.body.error).not.toContain(`${agentServerId},`);
      expect(await count()).toBe(before);

      const id = await f.service({ name: 'y', model_id: modelId, server_ids: [agentServerId] });
      const putModel = await t.http.put(`/api/services/${id}`).send({ model_id: UNKNOWN_ID }).expect(400);
      expect(putModel.body.error).toContain(String(UNKNOWN_ID));
      const putServers = await t.http
        .put(`/api/services/${id}`)
        .send({ server_ids: [UNKNOWN_ID + 2] })
        .expect(400);
      expect(putServers.body.error).toContain(String(UNKNOWN_ID + 2));
      expect(await f.get(id)).toMatchObject({ model_id: modelId, server_ids: [agentServerId] });
    });

    it('refuses unknown fields and invalid values with 400 naming the field', async () => {
      const unknown = await t.http.post('/api/services').send({ name: 'x', model_id: modelId, server_ids: [], gpu_count: 8 }).expect(400);
      expect(unknown.body.error).toContain('gpu_count');
      expect(JSON.stringify(unknown.body.details)).toContain('gpu_count');

      const id = await f.service({ name: 'z', model_id: modelId, server_ids: [] });
      const putUnknown = await t.http.put(`/api/services/${id}`).send({ name: 'z2', replicas: 2 }).expect(400);
      expect(putUnknown.body.error).toContain('replicas');
      expect((await f.get(id)).name).toBe('z');

      const cases: Array<[Record<string, unknown>, string]> = [
        [{ name: '', model_id: modelId, server_ids: [] }, 'name'],
        [{ model_id: modelId, server_ids: [] }, 'name'],
        [{ name: 'x', server_ids: [] }, 'model_id'],
        [{ name: 'x', model_id: 'one', server_ids: [] }, 'model_id'],
        [{ name: 'x', model_id: modelId, server_ids: '1,2' }, 'server_ids'],
        [{ name: 'x', model_id: modelId, server_ids: [agentServerId, agentServerId] }, 'server_ids'],
        [{ name: 'x', model_id: modelId, server_ids: [0] }, 'server_ids'],
        [{ name: 'x', model_id: modelId, server_ids: [], deploy_command: 42 }, 'deploy_command'],
      ];
      for (const [body, field] of cases) {
        const res = await t.http.post('/api/services').send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(JSON.stringify(res.body.details ?? res.body.error)).toContain(field);
      }
      for (const [body, field] of [
        [{ model_id: null }, 'model_id'],
        [{ name: null }, 'name'],
        [{ server_ids: null }, 'server_ids'],
      ] as const) {
        const res = await t.http.put(`/api/services/${id}`).send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(JSON.stringify(res.body.details ?? res.body.error)).toContain(field);
      }
    });

    it('answers 404 for unknown ids and 400 for ids that are not integers', async () => {
      for (const [method, path] of [
        ['get', `/api/services/${UNKNOWN_ID}`],
        ['put', `/api/services/${UNKNOWN_ID}`],
        ['delete', `/api/services/${UNKNOWN_ID}`],
        ['get', `/api/services/${UNKNOWN_ID}/deploy-log`],
        ['get', `/api/services/${UNKNOWN_ID}/operations`],
        ['post', `/api/services/${UNKNOWN_ID}/restart`],
        ['post', `/api/services/${UNKNOWN_ID}/stop`],
      ] as const) {
        const res = await t.http[method](path).send(method === 'put' ? { name: 'x' } : undefined);
        expect({ path, method, status: res.status }).toEqual({ path, method, status: 404 });
        expect(res.body.error).toContain(String(UNKNOWN_ID));
      }
      expect((await t.http.get('/api/services/abc').expect(400)).body.error).toEqual(expect.any(String));
    });
  });

  describe('deploy, stop and restart', () => {
    it('deploys in the background on create: the agent really runs the command, status deployed', async () => {
      const id = await f.service({ name: 'deploy-me', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      expect(agent.isRunning(id)).toBe(true);
      expect(agent.requests.find((entry) => entry.method === 'POST' && entry.path === `/service/${id}/deploy`)?.body).toEqual({
        command: 'sleep 60',
      });

      const log = await f.log(id);
      expect(log).toEqual([
        {
          server_id: agentServerId,
          server_name: 'gpu-a',
          server_ip: '127.0.0.1',
          success: true,
          output: expect.stringMatching(/pid \d+/),
          error: '',
        },
      ]);
      const running = await agentStatus(agent, id);
      expect(running).toMatchObject({ status: 'running', command: 'sleep 60' });
      expect(pidIn(log[0].output)).toBe(running.pid);
      expect(processExists(running.pid!)).toBe(true);
      // Lists carry the entries as the stored JSON text, which the admin UI parses.
      const service = await f.get(id);
      expect(JSON.parse(service.deploy_result!)).toEqual(log);
      const listed = (await t.http.get('/api/services').expect(200)).body.find((row: ServiceBody) => row.id === id);
      expect(listed.deploy_result).toBe(service.deploy_result);
      const refreshed = (await t.http.post('/api/services/refresh-status').expect(200)).body.find((row: ServiceBody) => row.id === id);
      expect(JSON.parse(refreshed.deploy_result)).toEqual(log);
    });

    it('stops the service: the process ends, status online, entries carry message', async () => {
      const id = await f.service({ name: 'stop-me', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      const { pid } = await agentStatus(agent, id);

      const deployLog = await f.log(id);

      await t.http.post(`/api/services/${id}/stop`).expect(200, { message: 'Service stop initiated' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('online');
      expect(agent.isRunning(id)).toBe(false);
      expect(processExists(pid!)).toBe(false);
      // The deploy log still shows the deploy; the stop's entries are in the history.
      expect(await f.log(id)).toEqual(deployLog);
      const [stop, deploy] = await f.operations(id);
      expect(stop).toEqual({
        id: expect.any(Number),
        service_id: id,
        operation: 'stop',
        started_by: 'admin',
        started_at: expect.any(String),
        finished_at: expect.any(String),
        command: null,
        outcome: 'succeeded',
        results: [
          { server_id: agentServerId, server_name: 'gpu-a', server_ip: '127.0.0.1', success: true, message: expect.stringMatching(/stopped/) },
        ],
        status_after: 'online',
      });
      expect(deploy).toMatchObject({
        operation: 'deploy',
        started_by: 'admin',
        command: 'sleep 60',
        outcome: 'succeeded',
        results: deployLog,
        status_after: 'deployed',
      });
      expect(Date.parse(stop.started_at)).toBeGreaterThanOrEqual(Date.parse(deploy.finished_at!));
    });

    it('stopping a service the agent never ran succeeds on that server', async () => {
      const id = await f.service({ name: 'never-ran', model_id: modelId, server_ids: [agentServerId] });
      await t.http.put(`/api/services/${id}`).send({ deploy_command: 'sleep 60' }).expect(200);
      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('online');
      expect(await f.log(id)).toEqual([]);
      expect((await f.operations(id))[0]).toMatchObject({
        operation: 'stop',
        outcome: 'succeeded',
        results: [{ server_id: agentServerId, server_name: 'gpu-a', server_ip: '127.0.0.1', success: true, message: expect.any(String) }],
      });
      expect(agent.isRunning(id)).toBe(false);
    });

    it('restarts: deployed again with a new process', async () => {
      const id = await f.service({ name: 'restart-me', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      const oldPid = pidIn((await f.log(id))[0].output);
      expect(processExists(oldPid)).toBe(true);

      await t.http.post(`/api/services/${id}/restart`).expect(200, { message: 'Service restart initiated' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      const log = await f.log(id);
      expect(log).toEqual([
        {
          server_id: agentServerId,
          server_name: 'gpu-a',
          server_ip: '127.0.0.1',
          success: true,
          output: expect.stringMatching(/restarted/),
          error: '',
        },
      ]);
      const newPid = pidIn(log[0].output);
      expect(newPid).not.toBe(oldPid);
      expect(processExists(oldPid)).toBe(false);
      expect(await agentStatus(agent, id)).toMatchObject({ status: 'running', pid: newPid });
      expect(postsTo(agent, id)).toEqual([`/service/${id}/deploy`, `/service/${id}/restart`]);

      // Restarting a stopped service brings it back too.
      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('online');
      await t.http.post(`/api/services/${id}/restart`).expect(200);
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      expect(agent.isRunning(id)).toBe(true);
    });

    it('keeps the status while a stop runs, and lists it as running until the agents answer', async () => {
      const slow = await newAgent({ delayMs: 400 });
      const slowServer = await f.server(slow.port, 'gpu-slow-stop');
      const id = await f.service({ name: 'slow-stop', model_id: modelId, server_ids: [slowServer], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');

      await t.http.post(`/api/services/${id}/stop`).expect(200);
      expect(slow.isRunning(id)).toBe(true);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      expect((await f.operations(id))[0]).toMatchObject({
        operation: 'stop',
        outcome: 'running',
        finished_at: null,
        results: null,
        status_after: null,
      });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('online');
      expect((await f.operations(id))[0]).toMatchObject({ operation: 'stop', outcome: 'succeeded', status_after: 'online' });
    });

    it('keeps the newest SERVICE_OPERATIONS_KEEP operations, newest first, and ?limit= pages them', async () => {
      const id = await f.service({ name: 'many-ops', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      for (const action of ['stop', 'restart', 'stop', 'restart']) {
        await t.http.post(`/api/services/${id}/${action}`).expect(200);
        await operations.settled(id);
      }
      const all = await f.operations(id);
      expect(all.map((entry) => entry.operation)).toEqual(['restart', 'stop', 'restart', 'stop']);
      expect(all.map((entry) => entry.id)).toEqual([...all.map((entry) => entry.id)].sort((a, b) => b - a));
      expect((await f.operations(id, '?limit=2')).map((entry) => entry.id)).toEqual(all.slice(0, 2).map((entry) => entry.id));
      expect((await t.http.get(`/api/services/${id}/operations?limit=0`).expect(400)).body.error).toMatch(/limit/);
      // The deploy log is the latest restart's.
      expect(await f.log(id)).toEqual(all[0].results);
      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await operations.settled(id);
      expect(await f.log(id)).toEqual(all[0].results);
      // Deleting the service deletes its history.
      await t.http.delete(`/api/services/${id}`).expect(200);
      await t.http.get(`/api/services/${id}/operations`).expect(404);
    });

    it('refuses restart and stop without servers or without a deploy command (400), and for unknown ids (404)', async () => {
      const noServers = await f.service({ name: 'no-servers', model_id: modelId, server_ids: [], deploy_command: 'sleep 60' });
      const noCommand = await f.service({ name: 'no-command', model_id: modelId, server_ids: [agentServerId] });
      const emptyCommand = await f.service({ name: 'empty-command', model_id: modelId, server_ids: [agentServerId], deploy_command: '' });
      for (const action of ['restart', 'stop']) {
        expect((await t.http.post(`/api/services/${noServers}/${action}`).expect(400)).body.error).toBe('No servers associated with this service');
        expect((await t.http.post(`/api/services/${noCommand}/${action}`).expect(400)).body.error).toBe('No deploy command found');
        expect((await t.http.post(`/api/services/${emptyCommand}/${action}`).expect(400)).body.error).toBe('No deploy command found');
        expect((await t.http.post(`/api/services/${UNKNOWN_ID}/${action}`).expect(404)).body.error).toContain(String(UNKNOWN_ID));
      }
      // Nothing was deployed and nothing changed.
      for (const id of [noServers, noCommand, emptyCommand]) {
        expect(await f.get(id)).toMatchObject({ deploy_status: 'offline', deploy_result: null });
        expect(postsTo(agent, id)).toEqual([]);
      }
    });

    it('refuses a second operation while one is in flight with 409', async () => {
      const slow = await newAgent({ delayMs: 500 });
      const slowServer = await f.server(slow.port);
      const id = await f.service({ name: 'busy', model_id: modelId, server_ids: [slowServer], deploy_command: 'sleep 60' });
      expect((await f.get(id)).deploy_status).toBe('deploying');

      const restart = await t.http.post(`/api/services/${id}/restart`).expect(409);
      expect(restart.body.error).toMatch(/in progress/);
      await t.http.post(`/api/services/${id}/stop`).expect(409);
      await t.http.delete(`/api/services/${id}`).expect(409);
      expect((await f.get(id)).deploy_status).toBe('deploying');

      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      expect(postsTo(slow, id)).toEqual([`/service/${id}/deploy`]);
      // Once finished, the next operation is accepted.
      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await t.http.post(`/api/services/${id}/restart`).expect(409);
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('online');
    });

    it('keeps deploying while an operation is in flight, even through a status refresh', async () => {
      const slow = await newAgent({ delayMs: 500 });
      const slowServer = await f.server(slow.port);
      const id = await f.service({ name: 'refresh-during-deploy', model_id: modelId, server_ids: [slowServer], deploy_command: 'sleep 60' });
      const refreshed = (await t.http.post('/api/services/refresh-status').expect(200)).body as ServiceBody[];
      expect(refreshed.find((service) => service.id === id)?.deploy_status).toBe('deploying');
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
    });
  });

  describe('unreachable and failing agents', () => {
    it("an agent on a closed port: offline, and that server's entry names host:port", async () => {
      const port = await closedPort();
      const deadServer = await f.server(port, 'gpu-dead');
      const id = await f.service({ name: 'half-dead', model_id: modelId, server_ids: [agentServerId, deadServer], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('offline');
      const log = await f.log(id);
      expect(log).toEqual([
        { server_id: agentServerId, server_name: 'gpu-a', server_ip: '127.0.0.1', success: true, output: expect.any(String), error: '' },
        { server_id: deadServer, server_name: 'gpu-dead', server_ip: '127.0.0.1', success: false, output: '', error: expect.any(String) },
      ]);
      expect(log[1].error).toContain(`127.0.0.1:${port}`);
      expect(log[1].error).toMatch(/refused/);
      // The reachable server was deployed all the same.
      expect(agent.isRunning(id)).toBe(true);
    });

    it('a stopped agent: offline, with the error logged for that server', async () => {
      const gone = await startAgentServer();
      await gone.stop();
      const goneServer = await f.server(gone.port, 'gpu-gone');
      const id = await f.service({ name: 'gone', model_id: modelId, server_ids: [goneServer], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('offline');
      const [entry] = await f.log(id);
      expect(entry).toMatchObject({ server_id: goneServer, server_name: 'gpu-gone', server_ip: '127.0.0.1', success: false });
      expect(entry.error).toContain(`127.0.0.1:${gone.port}`);
      // Stopping fails the same way, with the error in `message`.
      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await operations.settled(id);
      const [stop] = await f.operations(id);
      expect(stop).toMatchObject({ operation: 'stop', outcome: 'failed', status_after: 'offline' });
      const [stopEntry] = stop.results!;
      expect(stopEntry).toEqual({
        server_id: goneServer,
        server_name: 'gpu-gone',
        server_ip: '127.0.0.1',
        success: false,
        message: expect.any(String),
      });
      expect(stopEntry.message).toContain(`127.0.0.1:${gone.port}`);
      expect((await f.get(id)).deploy_status).toBe('offline');
    });

    it('an agent answering 500: its error text is carried into the deploy log', async () => {
      const broken = await newAgent();
      broken.setFailure('error500');
      const brokenServer = await f.server(broken.port, 'gpu-broken');
      const id = await f.service({ name: 'broken', model_id: modelId, server_ids: [brokenServer], deploy_command: 'sleep 60' });
      await operations.settled(id);
      const [entry] = await f.log(id);
      expect(entry).toMatchObject({ server_id: brokenServer, success: false, output: '' });
      expect(entry.error).toContain('agent exploded');
      expect(entry.error).toContain('500');
      expect(entry.error).toContain(`127.0.0.1:${broken.port}`);
      expect(broken.isRunning(id)).toBe(false);
      // Its status answers fail as well, so the service is not reported as running.
      expect((await f.get(id)).deploy_status).toBe('offline');
    });
  });

  describe('several servers', () => {
    it('deploys to every server in parallel: all four agents get their request before any answers', async () => {
      let answer!: () => void;
      const answersHeld = new Promise<void>((resolve) => (answer = resolve));
      const four = await Promise.all([0, 1, 2, 3].map(() => newAgent({ answersHeldUntil: answersHeld })));
      const fourServers: number[] = [];
      for (const [index, each] of four.entries()) fourServers.push(await f.server(each.port, `node-${index}`));
      const id = await f.service({ name: 'fanout', model_id: modelId, server_ids: fourServers, deploy_command: 'sleep 60' });
      // One server at a time would leave the others waiting for the first answer, which never comes until all four asked.
      await until(() => four.every((each) => postsTo(each, id).includes(`/service/${id}/deploy`)), 'every agent to receive its deploy');
      answer();
      await operations.settled(id);

      expect((await f.get(id)).deploy_status).toBe('deployed');
      const log = await f.log(id);
      expect(log.map((entry) => [entry.server_id, entry.server_name, entry.success])).toEqual(
        fourServers.map((serverId, index) => [serverId, `node-${index}`, true]),
      );
      for (const each of four) expect(each.isRunning(id)).toBe(true);
    });

    it('aggregates status over all servers: all running → deployed, one stopped → online, one unreachable → offline', async () => {
      const a = await newAgent();
      const b = await newAgent();
      const serverA = await f.server(a.port);
      const serverB = await f.server(b.port);
      const id = await f.service({ name: 'pair', model_id: modelId, server_ids: [serverA, serverB], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      const statusAfterRefresh = async () =>
        ((await t.http.post('/api/services/refresh-status').expect(200)).body as ServiceBody[]).find((service) => service.id === id)?.deploy_status;

      expect(await statusAfterRefresh()).toBe('deployed');

      // Stopped on one server behind the backend's back, through the agent's own API.
      expect((await fetch(`${b.url}/service/${id}/stop`, { method: 'POST' })).status).toBe(200);
      expect(a.isRunning(id)).toBe(true);
      expect(await statusAfterRefresh()).toBe('online');
      expect((await f.get(id)).deploy_status).toBe('online');

      await b.stop();
      expect(await statusAfterRefresh()).toBe('offline');
      expect((await f.get(id)).deploy_status).toBe('offline');
    });

    it('refresh-status reflects a process that died on its own', async () => {
      const id = await f.service({ name: 'crashy', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      expect((await f.get(id)).deploy_status).toBe('deployed');
      const deployLog = await f.log(id);
      const { pid } = await agentStatus(agent, id);

      process.kill(-pid!, 'SIGKILL');
      await eventually(
        () => agent.isRunning(id),
        (running) => !running,
        'the agent to see the process gone',
        8000,
      );

      const list = (await t.http.post('/api/services/refresh-status').expect(200)).body as ServiceBody[];
      expect(list.find((service) => service.id === id)?.deploy_status).toBe('online');
      expect((await f.get(id)).deploy_status).toBe('online');
      // A refresh changes the status, not the log of the last operation.
      expect(await f.log(id)).toEqual(deployLog);
    });
  });

  describe('deleting', () => {
    it('deleting a service deletes its chat history', async () => {
      const id = await f.service({ name: 'chatty', model_id: modelId, server_ids: [] });
      const keep = await f.service({ name: 'other-chat', model_id: modelId, server_ids: [] });
      await t.http.post(`/api/services/${id}/chat`).send({ role: 'user', content: 'hello' }).expect(201);
      await t.http.post(`/api/services/${id}/chat`).send({ role: 'assistant', content: 'hi' }).expect(201);
      await t.http.post(`/api/services/${keep}/chat`).send({ role: 'user', content: 'stay' }).expect(201);
      const rows = async (serviceId: number) =>
        Number(
          (await t.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM chat_history WHERE service_id = ${placeholder(1)}`, [serviceId]))[0].n,
        );
      expect(await rows(id)).toBe(2);

      await t.http.delete(`/api/services/${id}`).expect(200, { message: 'Service deleted successfully' });
      expect(await rows(id)).toBe(0);
      await t.http.get(`/api/services/${id}`).expect(404);
      await t.http.get(`/api/services/${id}/chat`).expect(404);
      expect(((await t.http.get('/api/services').expect(200)).body as ServiceBody[]).some((service) => service.id === id)).toBe(false);
      // Another service's history is untouched.
      expect(await rows(keep)).toBe(1);
      expect((await t.http.get(`/api/services/${keep}/chat`).expect(200)).body).toEqual([expect.objectContaining({ role: 'user', content: 'stay' })]);
    });

    it('refuses to delete a model or a server still used by a service (409), and allows it afterwards', async () => {
      const usedModel = await f.model('in-use');
      const spare = await newAgent();
      const usedServer = await f.server(spare.port, 'in-use-server');
      const id = await f.service({ name: 'user-of-both', model_id: usedModel, server_ids: [usedServer] });

      const model = await t.http.delete(`/api/models/${usedModel}`).expect(409);
      expect(model.body.error).toContain('user-of-both');
      const server = await t.http.delete(`/api/servers/${usedServer}`).expect(409);
      expect(server.body.error).toContain('user-of-both');
      const models = (await t.http.get('/api/models').expect(200)).body as Array<{ id: number }>;
      expect(models.some((entry) => entry.id === usedModel)).toBe(true);
      await t.http.get(`/api/servers/${usedServer}`).expect(200);
      // The schema refuses it too, for a writer that goes around the API.
      await expect(t.sql(`DELETE FROM servers WHERE id = ${placeholder(1)}`, [usedServer])).rejects.toThrow(/foreign key/i);

      await t.http.delete(`/api/services/${id}`).expect(200);
      expect(await t.sql(`SELECT server_id FROM service_servers WHERE service_id = ${placeholder(1)}`, [id])).toEqual([]);
      await t.http.delete(`/api/models/${usedModel}`).expect(200);
      await t.http.delete(`/api/servers/${usedServer}`).expect(200);
    });
  });

  describe('service_status over Socket.IO', () => {
    let client: Socket | undefined;
    afterEach(() => {
      client?.close();
      client = undefined;
    });

    it('pushes {id, deploy_status} for deploying and for the final status', async () => {
      await t.app.listen(0, '127.0.0.1');
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const events: Array<{ id: number; deploy_status: string }> = [];
      client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: t.adminToken } });
      client.on('service_status', (event) => events.push(event));
      await new Promise<void>((resolve, reject) => {
        client!.once('connect', resolve);
        client!.once('connect_error', reject);
      });
      const statusesOf = (id: number) => events.filter((event) => event.id === id);

      const id = await f.service({ name: 'pushed', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 60' });
      await operations.settled(id);
      const deployed = await eventually(
        () => statusesOf(id),
        (seen) => seen.length >= 2,
        'deploying and deployed to be pushed',
        8000,
      );
      expect(deployed).toEqual([
        { id, deploy_status: 'deploying' },
        { id, deploy_status: 'deployed' },
      ]);

      await t.http.post(`/api/services/${id}/stop`).expect(200);
      await operations.settled(id);
      // A stop keeps the status until the agents answer: no `deploying` in between.
      const stopped = await eventually(
        () => statusesOf(id),
        (seen) => seen.length >= 3,
        'the stop to be pushed',
        8000,
      );
      expect(stopped.slice(2)).toEqual([{ id, deploy_status: 'online' }]);
    });
  });
});

describe('services with hanging agents', () => {
  let t: TestApp;
  let operations: ServiceOperations;
  let modelId: number;
  const peers: TestAgent[] = [];
  const f = fixtures(() => t.http);

  beforeAll(async () => {
    t = await startTestApp({ AGENT_OPERATION_TIMEOUT_MS: '1000', AGENT_STATUS_TIMEOUT_MS: '2500' });
    operations = t.app.get(ServiceOperations);
    modelId = await f.model();
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(peers.map((peer) => peer.stop()));
  });

  const hangingAgent = async () => {
    const created = await startAgentServer();
    peers.push(created);
    created.setFailure('hang');
    return created;
  };

  it('bounds a deploy to a hanging agent by AGENT_OPERATION_TIMEOUT_MS, then its status query by AGENT_STATUS_TIMEOUT_MS', async () => {
    const hung = await hangingAgent();
    const hungServer = await f.server(hung.port, 'gpu-hung');
    const started = Date.now();
    const id = await f.service({ name: 'hung', model_id: modelId, server_ids: [hungServer], deploy_command: 'sleep 60' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await f.get(id)).deploy_status).toBe('deploying');
    await operations.settled(id);
    const elapsed = Date.now() - started;
    // 1000 ms for the deploy call, 2500 ms for the status query that follows.
    expect(elapsed).toBeGreaterThanOrEqual(3400);
    expect(elapsed).toBeLessThan(6000);
    expect((await f.get(id)).deploy_status).toBe('offline');
    const [entry] = await f.log(id);
    expect(entry).toMatchObject({ server_id: hungServer, server_name: 'gpu-hung', server_ip: '127.0.0.1', success: false, output: '' });
    expect(entry.error).toContain(`127.0.0.1:${hung.port}`);
    expect(entry.error).toMatch(/1000 ms/);
  });

  it('GET /api/services answers at once while an agent hangs, and starts one coalesced background refresh', async () => {
    const hung = await hangingAgent();
    const hungServer = await f.server(hung.port, 'gpu-silent');
    const id = await f.service({ name: 'silent', model_id: modelId, server_ids: [hungServer] });
    // As if deployed earlier; the agent has hung since.
    await t.sql(`UPDATE services SET deploy_status = 'deployed' WHERE id = ${placeholder(1)}`, [id]);
    const servicesCalls = () => hung.requests.filter((entry) => entry.method === 'GET' && entry.path === '/services').length;

    const started = Date.now();
    const first = await t.http.get('/api/services').expect(200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((first.body as ServiceBody[]).find((service) => service.id === id)?.deploy_status).toBe('deployed');
    await eventually(servicesCalls, (calls) => calls === 1, 'the background refresh to reach the agent', 8000);

    const again = Date.now();
    const second = await t.http.get('/api/services').expect(200);
    expect(Date.now() - again).toBeLessThan(1000);
    expect((second.body as ServiceBody[]).find((service) => service.id === id)?.deploy_status).toBe('deployed');

    // The refresh gives up on the agent after AGENT_STATUS_TIMEOUT_MS and marks the service offline.
    await eventually(
      async () => (await f.get(id)).deploy_status,
      (status) => status === 'offline',
      'the refresh to mark the service offline',
      8000,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2400);
    // The second GET joined the refresh in flight instead of starting another.
    expect(servicesCalls()).toBe(1);

    // Once it is over, the next GET starts a new one.
    await t.http.get('/api/services').expect(200);
    await eventually(servicesCalls, (calls) => calls === 2, 'a new refresh to reach the agent', 8000);
    // That refresh has read the services already: a status written now is overwritten when it gives up on the agent.
    await t.sql(`UPDATE services SET deploy_status = 'deployed' WHERE id = ${placeholder(1)}`, [id]);
    await eventually(
      async () => (await f.get(id)).deploy_status,
      (status) => status === 'offline',
      'the second refresh to finish',
      8000,
    );
  });

  it('POST /api/services/refresh-status is bounded by AGENT_STATUS_TIMEOUT_MS', async () => {
    const hung = await hangingAgent();
    const hungServer = await f.server(hung.port, 'gpu-stuck');
    const id = await f.service({ name: 'stuck', model_id: modelId, server_ids: [hungServer] });
    await t.sql(`UPDATE services SET deploy_status = 'deployed' WHERE id = ${placeholder(1)}`, [id]);
    const started = Date.now();
    const list = (await t.http.post('/api/services/refresh-status').expect(200)).body as ServiceBody[];
    const elapsed = Date.now() - started;
    expect(list.find((service) => service.id === id)?.deploy_status).toBe('offline');
    expect(elapsed).toBeGreaterThanOrEqual(2400);
    expect(elapsed).toBeLessThan(2500 + 2000);
  });

  it('POST /api/services/refresh-status started during a background refresh still answers with fresh statuses', async () => {
    // A background refresh, started by GET /api/services, is stuck on a hanging agent for AGENT_STATUS_TIMEOUT_MS.
    const hung = await hangingAgent();
    await f.service({ name: 'slow-to-refresh', model_id: modelId, server_ids: [await f.server(hung.port, 'gpu-slow')] });
    await t.http.get('/api/services').expect(200);
    await eventually(
      () => hung.requests.length,
      (count) => count === 1,
      'the background refresh to reach the hanging agent',
      8000,
    );

    // Meanwhile a process dies on a healthy agent.
    const healthy = await startAgentServer();
    peers.push(healthy);
    const healthyServer = await f.server(healthy.port, 'gpu-healthy');
    const id = await f.service({ name: 'died-meanwhile', model_id: modelId, server_ids: [healthyServer], deploy_command: 'sleep 60' });
    await operations.settled(id);
    expect((await f.get(id)).deploy_status).toBe('deployed');
    expect((await fetch(`${healthy.url}/service/${id}/stop`, { method: 'POST' })).status).toBe(200);

    // "Refreshes every service's status now": the answer must reflect the agents as they are after the request.
    const list = (await t.http.post('/api/services/refresh-status').expect(200)).body as ServiceBody[];
    expect(list.find((service) => service.id === id)?.deploy_status).toBe('online');
  });
});

describe('services after a restart of the backend', () => {
  let t: TestApp | undefined;
  let firstClosed = false;
  let restarted: NestExpressApplication | undefined;
  let savedEnv: NodeJS.ProcessEnv;
  const peers: TestAgent[] = [];

  beforeAll(() => {
    savedEnv = { ...process.env };
  });
  afterAll(async () => {
    await restarted?.close();
    if (t && !firstClosed) await t.close();
    // The first instance was closed by the test; only its environment and DATA_DIR are left to clean up.
    process.env = savedEnv;
    if (t) rmSync(t.dataDir, { recursive: true, force: true });
    await Promise.all(peers.map((peer) => peer.stop()));
  });

  it('sets services left deploying by a crash from what the agents answer', async () => {
    t = await startTestApp();
    const f = fixtures(() => t!.http);
    const agent = await startAgentServer();
    peers.push(agent);
    const modelId = await f.model();
    const liveServer = await f.server(agent.port, 'gpu-live');
    const deadServer = await f.server(await closedPort(), 'gpu-dead');

    const running = await f.service({ name: 'running', model_id: modelId, server_ids: [liveServer], deploy_command: 'sleep 60' });
    await t.app.get(ServiceOperations).settled(running);
    expect(agent.isRunning(running)).toBe(true);
    const idle = await f.service({ name: 'idle', model_id: modelId, server_ids: [liveServer] });
    const unreachable = await f.service({ name: 'unreachable', model_id: modelId, server_ids: [deadServer] });
    const ids = [running, idle, unreachable];
    // What a crash in the middle of three operations leaves behind.
    await t.sql(`UPDATE services SET deploy_status = 'deploying' WHERE id IN (${ids.map((_, i) => placeholder(i + 1)).join(', ')})`, ids);
    await t.app.close();
    firstClosed = true;

    // A new instance on the same data (same DATA_DIR / DATABASE_URL, no schema reset).
    restarted = await createApplication(false);
    await restarted.init();
    // Same DATA_DIR, hence the same signing secret and users: the first instance's token still works.
    const http = request.agent(restarted.getHttpServer()).set('Authorization', `Bearer ${t.adminToken}`);
    // GET by id starts no background refresh: what changes the statuses here is the start-up recovery alone.
    const statuses = async () => {
      const entries: Array<[number, string]> = [];
      for (const id of ids) entries.push([id, ((await http.get(`/api/services/${id}`).expect(200)).body as ServiceBody).deploy_status]);
      return Object.fromEntries(entries);
    };
    const settled = await eventually(
      statuses,
      (byId) => Object.values(byId).every((status) => status !== 'deploying'),
      'the left-over deploying statuses to be resolved',
      8000,
    );
    expect(settled).toEqual({ [running]: 'deployed', [idle]: 'online', [unreachable]: 'offline' });
    // The process deployed before the restart was left alone.
    expect(agent.isRunning(running)).toBe(true);
  });
});
