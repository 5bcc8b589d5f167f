import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentServer, TestAgent } from './helpers/agent-server';
import { BackendProcess, buildBackend, startBuiltBackend } from './helpers/built-backend';
import { eventually } from './helpers/wait';
import { resetPostgres } from './helpers/test-app';

const ADMIN = { username: 'admin', password: 'crash-test-password' };
const CONCURRENCY = 32;
const ROUNDS = 3;

interface ServiceBody {
  deploy_status: string;
  deploy_operation: string | null;
  /** The stored JSON text of the per-server results. */
  deploy_result: string | null;
}

/**
 * Kills the real backend with SIGKILL — no shutdown hooks, no flush — and checks that what it acknowledged survived.
 * The backend runs as a child process, built once per suite (see buildBackend).
 */
describe('a backend killed with SIGKILL', () => {
  let buildDir: string;
  const dataDirs: string[] = [];
  const backends: BackendProcess[] = [];
  let agent: TestAgent | undefined;

  beforeAll(async () => {
    buildDir = await buildBackend();
  }, 60_000);

  afterAll(async () => {
    for (const backend of backends) backend.child.kill('SIGKILL');
    await Promise.all(backends.map((backend) => backend.exited));
    await agent?.stop();
    for (const dir of [buildDir, ...dataDirs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh data directory (and, on PostgreSQL, an empty schema) for one scenario. */
  async function freshData(): Promise<string> {
    const dataDir = mkdtempSync(join(tmpdir(), 'infini-crash-'));
    dataDirs.push(dataDir);
    if (process.env.DATABASE_URL) await resetPostgres(process.env.DATABASE_URL);
    return dataDir;
  }

  /** Starts the built backend on `dataDir`. */
  async function startBackend(dataDir: string): Promise<BackendProcess> {
    const backend = await startBuiltBackend(buildDir, {
      DATA_DIR: dataDir,
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      AUTH_ENABLED: 'true',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      SCHEDULER_ENABLED: 'false',
      SERVICE_SYNC_INTERVAL_MS: '0',
    });
    backends.push(backend);
    return backend;
  }

  async function kill(backend: BackendProcess): Promise<void> {
    backend.child.kill('SIGKILL');
    await backend.exited;
    expect(backend.child.signalCode).toBe('SIGKILL');
  }

  /** A client of one backend, signed in as the admin. */
  async function signIn(backend: BackendProcess) {
    const login = await fetch(`${backend.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    const headers = {
      authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}`,
      'content-type': 'application/json',
    };
    const call = async <T = { id: number }>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${backend.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as T };
    };
    return { headers, call };
  }

  /**
   * Creates brands from CONCURRENCY workers until `killAfter` have been acknowledged, then SIGKILLs the backend with
   * the workers' requests still in flight. Returns the acknowledged ids with their names, and how many requests were
   * in flight at the kill.
   */
  async function burstAndKill(backend: BackendProcess, headers: Record<string, string>, round: number, killAfter: number) {
    const acknowledged = new Map<number, string>();
    const unexpected: string[] = [];
    let inFlight = 0;
    let inFlightAtKill = -1;
    const worker = async (index: number) => {
      for (let sequence = 0; inFlightAtKill < 0; sequence++) {
        const name = `round ${round} worker ${index} #${sequence}`;
        inFlight++;
        try {
          const response = await fetch(`${backend.url}/api/brands`, { method: 'POST', headers, body: JSON.stringify({ name }) });
          const body = (await response.json()) as { id: number };
          if (response.status === 201) acknowledged.set(body.id, name);
          else unexpected.push(`${response.status} ${JSON.stringify(body)}`);
        } catch {
          // The connection died with the backend: this write was never acknowledged.
          return;
        } finally {
          inFlight--;
        }
        if (acknowledged.size >= killAfter && inFlightAtKill < 0) {
          inFlightAtKill = inFlight;
          backend.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, index) => worker(index)));
    await kill(backend);
    expect(unexpected).toEqual([]);
    return { acknowledged, inFlightAtKill };
  }

  /** The brands the restarted backend returns, by id. */
  async function storedBrands(call: Awaited<ReturnType<typeof signIn>>['call']): Promise<Map<number, string>> {
    const { status, body } = await call<Array<{ id: number; name: string }>>('GET', '/api/brands');
    expect(status).toBe(200);
    return new Map(body.map((brand) => [brand.id, brand.name]));
  }

  it(`loses no acknowledged write: ${ROUNDS} rounds of ${CONCURRENCY} concurrent creations cut by SIGKILL`, async () => {
    const dataDir = await freshData();
    const acknowledged = new Map<number, string>();
    for (let round = 1; round <= ROUNDS; round++) {
      const backend = await startBackend(dataDir);
      const { headers, call } = await signIn(backend);
      if (round > 1) expect(missingFrom(await storedBrands(call), acknowledged)).toEqual([]);
      const burst = await burstAndKill(backend, headers, round, 100 * round);
      // The kill cut the burst: acknowledged writes and requests still in flight.
      expect(burst.acknowledged.size).toBeGreaterThanOrEqual(100 * round);
      expect(burst.inFlightAtKill).toBeGreaterThan(0);
      for (const [id, name] of burst.acknowledged) acknowledged.set(id, name);
    }
    const { call } = await signIn(await startBackend(dataDir));
    expect(missingFrom(await storedBrands(call), acknowledged)).toEqual([]);
    expect(acknowledged.size).toBeGreaterThanOrEqual(600);
  }, 60_000);

  it('records in deploy_result that the operation in flight was interrupted', async () => {
    agent = await startAgentServer();
    const dataDir = await freshData();
    const first = await startBackend(dataDir);
    const { call } = await signIn(first);
    const modelId = (await call('POST', '/api/models', { name: 'jiuge' })).body.id;
    const serverId = (await call('POST', '/api/servers', { name: 'gpu-agent', host_ip: '127.0.0.1', username: 'u', agent_port: agent.port })).body.id;
    const created = await call('POST', '/api/services', { name: 'qwen', model_id: modelId, server_ids: [serverId], deploy_command: 'sleep 60' });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const statusOf = async (client: typeof call) => (await client<ServiceBody>('GET', `/api/services/${id}`)).body;
    await eventually(
      () => statusOf(call),
      (service) => service.deploy_status === 'deployed',
      'the deploy',
      8000,
    );

    // A restart the agent takes and never answers: the backend dies while it waits.
    agent.setFailure('hang');
    expect((await call('POST', `/api/services/${id}/restart`)).status).toBe(200);
    await eventually(
      () => agent!.requests.some((request) => request.method === 'POST' && request.path === `/service/${id}/restart`),
      (received) => received,
      'the restart to reach the agent',
      8000,
    );
    await kill(first);
    agent.setFailure('none');

    const second = await startBackend(dataDir);
    const restarted = await signIn(second);
    // The recovery runs at start-up: the status comes from the agent, which still runs the first deploy.
    const service = await eventually(
      () => statusOf(restarted.call),
      (body) => body.deploy_status !== 'deploying',
      'the interrupted restart to be recovered',
      8000,
    );
    expect(service).toMatchObject({ deploy_status: 'deployed', deploy_operation: 'restart' });
    const log = await restarted.call<unknown[]>('GET', `/api/services/${id}/deploy-log`);
    expect(log.body).toEqual([
      {
        server_id: serverId,
        server_name: 'gpu-agent',
        server_ip: '127.0.0.1',
        success: false,
        output: '',
        error: 'Restart interrupted by a restart of the backend',
      },
    ]);
    expect(JSON.parse(service.deploy_result!)).toEqual(log.body);
    // The history says the same, and who started the restart.
    const [restart] = (await restarted.call<Array<Record<string, unknown>>>('GET', `/api/services/${id}/operations`)).body;
    expect(restart).toMatchObject({ operation: 'restart', started_by: 'admin', outcome: 'interrupted', results: log.body, status_after: 'deployed' });
    expect(restart.finished_at).toEqual(expect.any(String));
  }, 45_000);
});

/** The acknowledged ids that are not stored with their name. */
function missingFrom(stored: Map<number, string>, acknowledged: Map<number, string>): Array<{ id: number; name: string; stored: string | null }> {
  return [...acknowledged].filter(([id, name]) => stored.get(id) !== name).map(([id, name]) => ({ id, name, stored: stored.get(id) ?? null }));
}
