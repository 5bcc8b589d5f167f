import { closedPort, describeSsh, startSilentTcpHost, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TestApp } from './helpers/test-app';

describeSsh('servers over a real sshd', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let silent: { port: number; stop(): Promise<void> };

  beforeAll(async () => {
    sshd = await startSshd();
    silent = await startSilentTcpHost();
    t = await startTestApp({ SERVER_CHECK_TIMEOUT_MS: '1500', RESOURCES_TIMEOUT_MS: '3000', SSH_CONNECT_TIMEOUT_MS: '2500' });
  });
  afterAll(async () => {
    await t?.close();
    await silent?.stop();
    await sshd?.stop();
  });

  const createServer = async (fields: Record<string, unknown> = {}) => {
    const res = await t.http
      .post('/api/servers')
      .send({ name: 'gpu-1', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password, ...fields })
      .expect(201);
    expect(res.body.message).toBe('Server created successfully');
    return res.body.id as number;
  };
  const getServer = async (id: number) => (await t.http.get(`/api/servers/${id}`).expect(200)).body;

  describe('registration', () => {
    it('creates a server with defaults and never returns its secrets', async () => {
      const id = await createServer();
      const server = await getServer(id);
      expect(server).toMatchObject({
        id,
        name: 'gpu-1',
        host_ip: '127.0.0.1',
        port: sshd.port,
        username: sshd.username,
        auth_type: 'password',
        agent_port: 8888,
        chat_port: 8000,
        status: 'offline',
        last_check: null,
        brand_id: null,
        model_id: null,
        brand_name: null,
        model_name: null,
        host_key_fingerprint: null,
      });
      const list = await t.http.get('/api/servers').expect(200);
      const everything = JSON.stringify([server, list.body]);
      expect(everything).not.toContain(sshd.password);
      expect(everything).not.toMatch(/"(password|private_key|passphrase)":/);
      expect(Object.keys(server).sort()).toEqual(
        [
          'id',
          'name',
          'brand_id',
          'model_id',
          'brand_name',
          'model_name',
          'host_ip',
          'port',
          'username',
          'auth_type',
          'agent_port',
          'chat_port',
          'status',
          'last_check',
          'host_key_fingerprint',
          'created_at',
        ].sort(),
      );
    });

    it('stores secrets encrypted at rest', async () => {
      const id = await createServer();
      const [row] = await t.sql<{ password: string }>(`SELECT password FROM servers WHERE id = ${id}`);
      expect(row.password).toMatch(/^v1:/);
      expect(row.password).not.toContain(sshd.password);
    });

    it('joins the brand and accelerator card names', async () => {
      const brand = (await t.http.post('/api/brands').send({ name: 'NVIDIA' }).expect(201)).body.id;
      const card = (await t.http.post(`/api/brands/${brand}/accelerators`).send({ name: 'H100', model: 'SXM5' }).expect(201)).body.id;
      const id = await createServer({ brand_id: brand, model_id: card, agent_port: 9888, chat_port: 9000 });
      expect(await getServer(id)).toMatchObject({ brand_name: 'NVIDIA', model_name: 'H100', agent_port: 9888, chat_port: 9000 });
      const listed = (await t.http.get('/api/servers').expect(200)).body.find((server: { id: number }) => server.id === id);
      expect(listed).toMatchObject({ brand_name: 'NVIDIA', model_name: 'H100' });
    });

    it.each([
      ['a URL as host', { host_ip: 'http://gpu-1' }, 'host_ip'],
      ['shell characters in host', { host_ip: 'gpu;reboot' }, 'host_ip'],
      ['port 0', { port: 0 }, 'port'],
      ['port 70000', { port: 70000 }, 'port'],
      ['agent_port as text', { agent_port: '8888' }, 'agent_port'],
      ['unknown auth_type', { auth_type: 'kerberos' }, 'auth_type'],
      ['an unknown field', { root: true }, 'root'],
    ])('refuses %s with 400 naming the field, and stores nothing', async (_case, fields, field) => {
      const before = (await t.http.get('/api/servers').expect(200)).body.length;
      const res = await t.http
        .post('/api/servers')
        .send({ name: 'bad', host_ip: '127.0.0.1', username: 'u', ...fields })
        .expect(400);
      expect(res.body.details.map((detail: { field: string }) => detail.field)).toContain(field);
      expect((await t.http.get('/api/servers').expect(200)).body).toHaveLength(before);
    });

    it('accepts IPv6 addresses and hostnames', async () => {
      await createServer({ host_ip: '::1', name: 'v6' });
      await createServer({ host_ip: 'gpu-node-7.lab', name: 'named' });
    });

    it('refuses references to a brand or card that does not exist', async () => {
      const res = await t.http.post('/api/servers').send({ name: 'x', host_ip: '127.0.0.1', username: 'u', brand_id: 999999 }).expect(400);
      expect(res.body.error).toMatch(/brand_id 999999/);
    });

    it('refuses key authentication without a usable key, without echoing the key', async () => {
      const missing = await t.http.post('/api/servers').send({ name: 'k', host_ip: '127.0.0.1', username: 'u', auth_type: 'key' }).expect(400);
      expect(missing.body.error).toMatch(/private_key is required/);
      const garbage = 'not-a-key-SECRETSECRET';
      const bad = await t.http
        .post('/api/servers')
        .send({ name: 'k', host_ip: '127.0.0.1', username: 'u', auth_type: 'key', private_key: garbage })
        .expect(400);
      expect(JSON.stringify(bad.body)).not.toContain('SECRETSECRET');
      const noPassphrase = await t.http
        .post('/api/servers')
        .send({ name: 'k', host_ip: '127.0.0.1', username: 'u', auth_type: 'key', private_key: sshd.encryptedPrivateKey })
        .expect(400);
      expect(noPassphrase.body.error).toMatch(/passphrase/);
    });

    it('returns 404 for unknown servers on every route', async () => {
      for (const [method, path] of [
        ['get', '/api/servers/424242'],
        ['put', '/api/servers/424242'],
        ['delete', '/api/servers/424242'],
        ['post', '/api/servers/424242/check'],
        ['get', '/api/servers/424242/resources'],
        ['post', '/api/servers/424242/host-key/reset'],
      ] as const) {
        const res = await t.http[method](path).send({});
        expect([path, res.status]).toEqual([path, 404]);
      }
    });
  });

  describe('reachability checks', () => {
    it('reports the real sshd online and stores status and last_check', async () => {
      const id = await createServer();
      const res = await t.http.post(`/api/servers/${id}/check`).expect(200);
      expect(res.body).toEqual({ status: 'online' });
      const server = await getServer(id);
      expect(server.status).toBe('online');
      expect(Date.now() - new Date(server.last_check).getTime()).toBeLessThan(60_000);
      expect((await t.http.get('/api/stats').expect(200)).body.online_server_count).toBeGreaterThanOrEqual(1);
    });

    it('reports a closed port and a host that never speaks offline, within the check timeout', async () => {
      const refused = await createServer({ port: await closedPort() });
      const hanging = await createServer({ port: silent.port });
      expect((await t.http.post(`/api/servers/${refused}/check`).expect(200)).body).toEqual({ status: 'offline' });
      const started = Date.now();
      expect((await t.http.post(`/api/servers/${hanging}/check`).expect(200)).body).toEqual({ status: 'offline' });
      expect(Date.now() - started).toBeLessThan(4000);
    });

    it('checks all servers in parallel', async () => {
      const live = await createServer();
      const hanging = await createServer({ port: silent.port });
      const others = await createServer({ port: silent.port });
      const started = Date.now();
      const res = await t.http.post('/api/servers/check-all').expect(200);
      // Two hanging hosts of 1.5 s each: in parallel well under their sum plus the rest.
      expect(Date.now() - started).toBeLessThan(2900);
      const statuses = Object.fromEntries(res.body.results.map((result: { id: number; status: string }) => [result.id, result.status]));
      expect(statuses).toMatchObject({ [live]: 'online', [hanging]: 'offline', [others]: 'offline' });
    });
  });

  describe('resources', () => {
    it('measures CPU, memory and disk in percent with one decimal, over one pooled connection', async () => {
      const id = await createServer();
      const res = await t.http.get(`/api/servers/${id}/resources`).expect(200);
      for (const metric of ['cpu_usage', 'memory_usage', 'disk_usage']) {
        expect(typeof res.body[metric]).toBe('number');
        expect(res.body[metric]).toBeGreaterThanOrEqual(0);
        expect(res.body[metric]).toBeLessThanOrEqual(100);
        expect(Math.round(res.body[metric] * 10) / 10).toBe(res.body[metric]);
      }
      expect(res.body.error).toBeUndefined();
      expect(res.body).not.toHaveProperty('gpus');
    });

    it('measures a batch of live, refused and hanging hosts; failures are nulls with an error and delay nobody', async () => {
      await t.sql('DELETE FROM servers');
      const live = await createServer();
      const refused = await createServer({ port: await closedPort() });
      const hanging = await createServer({ port: silent.port });
      const started = Date.now();
      const res = await t.http.post('/api/servers/resources').expect(200);
      const elapsed = Date.now() - started;
      const byId = Object.fromEntries(res.body.map((entry: { id: number }) => [entry.id, entry]));
      expect(typeof byId[live].cpu_usage).toBe('number');
      expect(byId[live].error).toBeUndefined();
      expect(byId[refused]).toMatchObject({ cpu_usage: null, memory_usage: null, disk_usage: null });
      expect(byId[refused].error).toMatch(new RegExp(`refused.*127\\.0\\.0\\.1:\\d+`));
      expect(byId[hanging]).toMatchObject({ cpu_usage: null, memory_usage: null, disk_usage: null });
      expect(byId[hanging].error).toMatch(/Timed out/i);
      // Bounded by the hanging host's own timeout (RESOURCES_TIMEOUT_MS=3000), not the sum.
      expect(elapsed).toBeLessThan(4500);
    });
  });

  describe('credentials', () => {
    it('authenticates with a private key, and with an encrypted key and its passphrase', async () => {
      const plain = await createServer({ auth_type: 'key', password: undefined, private_key: sshd.privateKey });
      const encrypted = await createServer({
        auth_type: 'key',
        password: undefined,
        private_key: sshd.encryptedPrivateKey,
        passphrase: sshd.passphrase,
      });
      for (const id of [plain, encrypted]) {
        const res = await t.http.get(`/api/servers/${id}/resources`).expect(200);
        expect([id, res.body.error]).toEqual([id, undefined]);
      }
    });

    it('keeps the stored password when an update sends it empty or leaves it out', async () => {
      const id = await createServer();
      await t.http.put(`/api/servers/${id}`).send({ name: 'renamed', password: '' }).expect(200);
      await t.http.put(`/api/servers/${id}`).send({ username: sshd.username }).expect(200);
      const res = await t.http.get(`/api/servers/${id}/resources`).expect(200);
      expect(res.body.error).toBeUndefined();
      expect((await getServer(id)).name).toBe('renamed');
    });

    it('uses a new password at once after an update', async () => {
      const id = await createServer();
      expect((await t.http.get(`/api/servers/${id}/resources`).expect(200)).body.error).toBeUndefined();
      await t.http.put(`/api/servers/${id}`).send({ password: 'wrong-password' }).expect(200);
      const res = await t.http.get(`/api/servers/${id}/resources`).expect(200);
      expect(res.body.error).toMatch(/Authentication failed/);
      expect(res.body.error).not.toContain('wrong-password');
    });

    it("runs a task with the server's credentials of the moment: a password changed and changed back", async () => {
      const id = await createServer();
      const task = (await t.http.post('/api/tasks').send({ name: 'who', command: 'whoami', server_id: id, schedule_type: 'daily' }).expect(201)).body
        .id;
      const execute = async () =>
        (await t.http.post(`/api/tasks/${task}/execute`).expect(200)).body as { success: boolean; output: string; error: string };

      const ranAs = async () => {
        const result = await execute();
        return [result.success, result.output.trim()];
      };
      expect(await ranAs()).toEqual([true, sshd.username]);
      await t.http.put(`/api/servers/${id}`).send({ password: 'wrong-password' }).expect(200);
      const refused = await execute();
      expect(refused).toMatchObject({ success: false, error: expect.stringMatching(/Authentication failed/) });
      await t.http.put(`/api/servers/${id}`).send({ password: sshd.password }).expect(200);
      expect(await ranAs()).toEqual([true, sshd.username]);
    });
  });

  describe('host keys (trust on first use)', () => {
    it('pins the first key, refuses another naming both, and trusts again after a reset', async () => {
      const id = await createServer();
      expect((await t.http.get(`/api/servers/${id}/resources`).expect(200)).body.error).toBeUndefined();
      const pinned = sshd.hostKeyFingerprint;
      expect((await getServer(id)).host_key_fingerprint).toBe(pinned);

      await sshd.restart({ newHostKey: true });
      const refused = await t.http.get(`/api/servers/${id}/resources`).expect(200);
      expect(refused.body.cpu_usage).toBeNull();
      expect(refused.body.error).toContain('Host key mismatch');
      expect(refused.body.error).toContain(pinned);
      expect(refused.body.error).toContain(sshd.hostKeyFingerprint);

      await t.http.post(`/api/servers/${id}/host-key/reset`).expect(200);
      expect((await getServer(id)).host_key_fingerprint).toBeNull();
      expect((await t.http.get(`/api/servers/${id}/resources`).expect(200)).body.error).toBeUndefined();
      expect((await getServer(id)).host_key_fingerprint).toBe(sshd.hostKeyFingerprint);
    });
  });

  describe('deletion', () => {
    it('refuses while a task or service uses the server, naming them; then deletes', async () => {
      const id = await createServer();
      const task = (await t.http.post('/api/tasks').send({ name: 'nightly', command: 'true', server_id: id, schedule_type: 'daily' }).expect(201))
        .body.id;
      const model = (await t.http.post('/api/models').send({ name: 'jiuge' }).expect(201)).body.id;
      await t.http
        .post('/api/services')
        .send({ name: 'chat-svc', model_id: model, server_ids: [id] })
        .expect(201);
      const refused = await t.http.delete(`/api/servers/${id}`).expect(409);
      expect(refused.body.error).toMatch(/task nightly/);
      expect(refused.body.error).toMatch(/service chat-svc/);
      await t.http.delete(`/api/tasks/${task}`).expect(200);
      await t.sql(`DELETE FROM services`);
      await t.http.delete(`/api/servers/${id}`).expect(200);
      await t.http.get(`/api/servers/${id}`).expect(404);
    });
  });
});
