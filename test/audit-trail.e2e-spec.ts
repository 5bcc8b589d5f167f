import { DataSource } from 'typeorm';
import { ServiceOperations } from '../src/modules/services/service-operations.service';
import { startAgentServer, TestAgent } from './helpers/agent-server';
import { describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TestApp } from './helpers/test-app';
import { eventually } from './helpers/wait';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface AuditEvent {
  id: number;
  at: string;
  user: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * The issue's attack: an operator creates a benign task, another changes its command with PUT, and the scheduler runs
 * it. Every command that runs — tasks, services' deploy commands — must be traceable to a person in the audit log.
 */
describeSsh('the audit trail of commands', () => {
  let sshd: TestSshd;
  let agent: TestAgent;
  let t: TestApp;
  let serverId: number;
  let agentServerId: number;
  let modelId: number;
  const tokens: Record<string, string> = {};

  /** Requests as one of the signed-in operators. */
  const as = (user: string) => ({
    post: (url: string) => t.anonymous.post(url).set('Authorization', `Bearer ${tokens[user]}`),
    put: (url: string) => t.anonymous.put(url).set('Authorization', `Bearer ${tokens[user]}`),
    get: (url: string) => t.anonymous.get(url).set('Authorization', `Bearer ${tokens[user]}`),
  });

  /** The events of one target, oldest first. */
  async function eventsOf(target: string): Promise<AuditEvent[]> {
    const events = (await t.http.get('/api/audit?per_page=500').expect(200)).body.events as AuditEvent[];
    return events.filter((event) => event.target === target).reverse();
  }

  beforeAll(async () => {
    sshd = await startSshd();
    agent = await startAgentServer();
    t = await startTestApp({ SCHEDULER_ENABLED: 'true', SCHEDULER_POLL_MS: '100' });
    for (const username of ['alice', 'bob']) {
      await t.http
        .post('/api/users')
        .send({ username, password: `${username}-password`, role: 'operator' })
        .expect(201);
      tokens[username] = await t.login(username, `${username}-password`);
    }
    serverId = (
      await t.http
        .post('/api/servers')
        .send({ name: 'gpu-ssh', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
        .expect(201)
    ).body.id;
    agentServerId = (
      await t.http.post('/api/servers').send({ name: 'gpu-agent', host_ip: '127.0.0.1', username: 'u', agent_port: agent.port }).expect(201)
    ).body.id;
    modelId = (await t.http.post('/api/models').send({ name: 'jiuge' }).expect(201)).body.id;
  });
  afterAll(async () => {
    await t?.close();
    await agent?.stop();
    await sshd?.stop();
  });

  it('traces a scheduled run of a command changed by PUT to whoever changed it', async () => {
    const created = await as('alice')
      .post('/api/tasks')
      .send({ name: 'nightly', command: 'echo benign', server_id: serverId, schedule_type: 'once', enabled: false })
      .expect(201);
    const id = created.body.id as number;
    expect((await as('alice').get(`/api/tasks/${id}`).expect(200)).body.command_set_by).toBe('alice');

    // Enabling a `once` task without run_at makes it due at once: the scheduler runs bob's command.
    await as('bob').put(`/api/tasks/${id}`).send({ command: 'echo changed-by-bob', enabled: true }).expect(200);
    const [run] = await eventually(
      async () =>
        (await t.http.get(`/api/tasks/${id}/runs`).expect(200)).body as Array<{
          trigger: string;
          status: string;
          output: string;
          scheduled_for: string;
        }>,
      (runs) => runs.length > 0 && runs[0].status !== 'running',
      'the scheduled run to finish',
    );
    expect(run).toMatchObject({ trigger: 'schedule', status: 'completed', output: expect.stringContaining('changed-by-bob') });

    // A later edit that leaves the command alone does not take it over, and the field itself is read-only.
    await as('alice').put(`/api/tasks/${id}`).send({ name: 'nightly report', command: 'echo changed-by-bob', command_set_by: 'alice' }).expect(200);
    expect((await t.http.get(`/api/tasks/${id}`).expect(200)).body).toMatchObject({ command: 'echo changed-by-bob', command_set_by: 'bob' });

    const events = await eventsOf(`task:${id}`);
    expect(events.map((event) => [event.action, event.user])).toEqual([
      ['task.create', 'alice'],
      ['task.update', 'bob'],
      ['task.run', null],
      ['task.update', 'alice'],
    ]);
    expect(events[0].detail).toMatchObject({ command: 'echo benign', server_id: serverId });
    expect(events[1].detail).toEqual({
      changed: ['command', 'enabled'],
      command: 'echo changed-by-bob',
      previous_command: 'echo benign',
      server_id: serverId,
    });
    expect(events[2].detail).toEqual({
      command: 'echo changed-by-bob',
      server_id: serverId,
      scheduled_for: run.scheduled_for,
      command_set_by: 'bob',
    });
    expect(events[2].detail!.scheduled_for).toMatch(ISO_UTC);
    expect(events[3].detail).toEqual({ changed: ['name'], command: 'echo changed-by-bob', server_id: serverId });
  });

  it('records who set the command of a task executed by hand', async () => {
    const id = (
      await as('alice').post('/api/tasks').send({ name: 'by hand', command: 'echo one', server_id: serverId, schedule_type: 'daily' }).expect(201)
    ).body.id;
    await as('bob').put(`/api/tasks/${id}`).send({ command: 'echo two' }).expect(200);
    expect((await as('alice').post(`/api/tasks/${id}/execute`).expect(200)).body).toMatchObject({
      success: true,
      output: expect.stringContaining('two'),
    });

    const execute = (await eventsOf(`task:${id}`)).find((event) => event.action === 'task.execute');
    expect(execute).toMatchObject({ user: 'alice', detail: { command: 'echo two', server_id: serverId, command_set_by: 'bob' } });
  });

  it("records services' deploy commands: on create and update, and what each deploy, restart and stop sent", async () => {
    const services = t.app.get(ServiceOperations);
    const created = await as('alice')
      .post('/api/services')
      .send({ name: 'qwen', model_id: modelId, server_ids: [agentServerId], deploy_command: 'sleep 30' })
      .expect(201);
    const id = created.body.id as number;
    await services.settled(id);
    await as('bob').put(`/api/services/${id}`).send({ deploy_command: 'sleep 31', name: 'qwen' }).expect(200);
    await as('bob').post(`/api/services/${id}/restart`).expect(200);
    await services.settled(id);
    await as('alice').post(`/api/services/${id}/stop`).expect(200);
    await services.settled(id);

    // The agent was sent exactly the commands the log names.
    const sent = agent.requests.filter((request) => request.method === 'POST' && request.path.startsWith(`/service/${id}/`));
    expect(sent.map((request) => [request.path, (request.body as { command?: string } | undefined)?.command])).toEqual([
      [`/service/${id}/deploy`, 'sleep 30'],
      [`/service/${id}/restart`, 'sleep 31'],
      [`/service/${id}/stop`, undefined],
    ]);
    // Each operation's audit row names its entry in the service's history, which names the same person.
    const history = (await t.http.get(`/api/services/${id}/operations`).expect(200)).body as Array<{
      id: number;
      operation: string;
      started_by: string;
    }>;
    expect(history.map((entry) => [entry.operation, entry.started_by])).toEqual([
      ['stop', 'alice'],
      ['restart', 'bob'],
      ['deploy', 'alice'],
    ]);
    const operationIds = [history[0].id, history[1].id, undefined, history[2].id];
    const events = await eventsOf(`service:${id}`);
    expect(events.map((event) => ({ action: event.action, user: event.user, detail: event.detail }))).toEqual([
      { action: 'service.create', user: 'alice', detail: { name: 'qwen', server_ids: [agentServerId], aliases: [], deploy_command: 'sleep 30' } },
      {
        action: 'service.deploy',
        user: 'alice',
        detail: { name: 'qwen', server_ids: [agentServerId], command: 'sleep 30', operation_id: operationIds[3] },
      },
      {
        action: 'service.update',
        user: 'bob',
        detail: { changed: ['deploy_command'], deploy_command: 'sleep 31', previous_deploy_command: 'sleep 30', server_ids: [agentServerId] },
      },
      {
        action: 'service.restart',
        user: 'bob',
        detail: { name: 'qwen', server_ids: [agentServerId], command: 'sleep 31', operation_id: operationIds[1] },
      },
      { action: 'service.stop', user: 'alice', detail: { name: 'qwen', server_ids: [agentServerId], operation_id: operationIds[0] } },
    ]);
  });

  it('filters by user, in any letter case, through an index on lower(username)', async () => {
    const filtered = (await t.http.get('/api/audit?user=BOB&per_page=500').expect(200)).body.events as AuditEvent[];
    expect(filtered.map((event) => event.action)).toContain('auth.login');
    expect(new Set(filtered.map((event) => event.user))).toEqual(new Set(['bob']));

    // The statements the filter really sends (every query runner reports them to the logger), and the plan of each.
    const dataSource = t.app.get(DataSource);
    const logged = jest.spyOn(dataSource.logger, 'logQuery');
    let statements: Array<{ sql: string; parameters?: unknown[] }>;
    try {
      await t.http.get('/api/audit?user=Bob').expect(200);
      statements = logged.mock.calls.map(([sql, parameters]) => ({ sql, parameters })).filter(({ sql }) => /FROM "audit_events"/.test(sql));
    } finally {
      logged.mockRestore();
    }
    expect(statements.length).toBeGreaterThanOrEqual(1);
    const postgres = dataSource.options.type === 'postgres';
    const runner = dataSource.createQueryRunner();
    try {
      // With a handful of rows a full scan is cheapest; what matters is whether an index can serve the filter at all.
      if (postgres) await runner.query('SET enable_seqscan = off');
      for (const { sql, parameters } of statements) {
        const plan = (await runner.query(`${postgres ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'} ${sql}`, parameters)) as Array<Record<string, string>>;
        expect({ sql, plan: plan.map((row) => row['QUERY PLAN'] ?? row.detail).join('\n') }).toEqual({
          sql,
          plan: expect.stringContaining('IDX_audit_events_username_lower'),
        });
      }
    } finally {
      if (postgres) await runner.query('RESET enable_seqscan');
      await runner.release();
    }
  });
});
