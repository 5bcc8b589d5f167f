import { MetricsSampler } from '../src/modules/metrics/metrics-sampler.service';
import { closedPort, describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';

interface Series {
  step: number;
  timestamps: string[];
  online: (number | null)[];
  cpu_usage: (number | null)[];
  memory_usage: (number | null)[];
  disk_usage: (number | null)[];
}

/** Slots of the default 30 s interval, so that each sampleAll(now) call is a slot of its own. */
const slot = (index: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, index * 30));

describeSsh('metric history over a real sshd', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let live: number;
  let dead: number;

  beforeAll(async () => {
    sshd = await startSshd();
    // The sampler's timer is off (0): tests call sampleAll with the time they mean.
    t = await startTestApp({ METRICS_INTERVAL_SECONDS: '0', RESOURCES_TIMEOUT_MS: '5000', SSH_CONNECT_TIMEOUT_MS: '2500' });
    const server = async (name: string, port: number) =>
      (await t.http.post('/api/servers').send({ name, host_ip: sshd.host, port, username: sshd.username, password: sshd.password }).expect(201)).body
        .id as number;
    live = await server('live', sshd.port);
    dead = await server('dead', await closedPort());
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  const sampler = () => t.app.get(MetricsSampler);
  const rows = (serverId: number) =>
    t.sql<{ resolution: string; taken_at: string; online: number | null }>(
      `SELECT resolution, taken_at, online FROM server_samples WHERE server_id = ${placeholder(1)} ORDER BY taken_at`,
      [serverId],
    );
  const history = async (serverId: number, query: string) =>
    (await t.http.get(`/api/servers/${serverId}/metrics?${query}`).expect(200)).body as Series;

  it('samples every server once per slot: the live one measured, the dead one recorded offline', async () => {
    await sampler().sampleAll(slot(0));
    await sampler().sampleAll(slot(2));
    const series = await history(live, `from=${slot(0).toISOString()}&to=${slot(4).toISOString()}&step=30`);
    expect(series.timestamps).toEqual([0, 1, 2, 3].map((index) => slot(index).toISOString()));
    expect(series.online).toEqual([1, null, 1, null]);
    for (const metric of ['cpu_usage', 'memory_usage', 'disk_usage'] as const) {
      expect(series[metric][0]).toEqual(expect.any(Number));
      expect(series[metric][1]).toBeNull();
    }
    const offline = await history(dead, `from=${slot(0).toISOString()}&to=${slot(4).toISOString()}&step=60`);
    expect(offline).toMatchObject({ step: 60, online: [0, 0], cpu_usage: [null, null] });
  });

  it('lists the latest sample of every server, named', async () => {
    const latest = (await t.http.get('/api/servers/metrics/latest').expect(200)).body as {
      server_id: number;
      server_name: string;
      online: boolean;
      taken_at: string;
    }[];
    expect(latest.map((sample) => [sample.server_id, sample.server_name, sample.online, sample.taken_at])).toEqual([
      [live, 'live', true, slot(2).toISOString()],
      [dead, 'dead', false, slot(2).toISOString()],
    ]);
  });

  it('takes one sample per server and slot when two instances share the database', async () => {
    const other = await startTestApp({ METRICS_INTERVAL_SECONDS: '0' }, false, t);
    try {
      await Promise.all([sampler().sampleAll(slot(10)), other.app.get(MetricsSampler).sampleAll(slot(10))]);
      const taken = (await rows(live)).filter((row) => new Date(row.taken_at).getTime() === slot(10).getTime());
      expect(taken).toEqual([expect.objectContaining({ resolution: 'raw', online: 1 })]);
    } finally {
      await other.close();
    }
  });

  it('averages raw samples past METRICS_RAW_HOURS into five-minute samples, and drops those past METRICS_HISTORY_DAYS', async () => {
    const now = new Date(Date.UTC(2026, 11, 3, 0, 0, 0));
    const insert = (takenAt: string, resolution: string, cpu: number) =>
      t.sql(
        `INSERT INTO server_samples (server_id, resolution, taken_at, online, cpu_usage) VALUES (${[1, 2, 3, 4, 5].map(placeholder).join(', ')})`,
        [dead, resolution, takenAt, 1, cpu],
      );
    await t.sql(`DELETE FROM server_samples WHERE server_id = ${placeholder(1)}`, [dead]);
    // 25 hours old: one five-minute bucket of three raw samples.
    await insert('2026-12-01 23:00:00.000', 'raw', 10);
    await insert('2026-12-01 23:01:00.000', 'raw', 20);
    await insert('2026-12-01 23:04:30.000', 'raw', 60);
    // 31 days old: past the history.
    await insert('2026-11-01 23:00:00.000', '5m', 50);
    await sampler().sampleAll(now);
    const kept = await rows(dead);
    expect(kept.map((row) => [row.resolution, new Date(row.taken_at).toISOString()])).toEqual([
      ['5m', '2026-12-01T23:00:00.000Z'],
      ['raw', now.toISOString()],
    ]);
    const series = await history(dead, 'from=2026-12-01T23:00:00Z&to=2026-12-01T23:10:00Z&step=300');
    expect(series.cpu_usage).toEqual([30, null]);
  });

  it('refuses a reversed range, too many points and bad dates with 400; an unknown server with 404', async () => {
    const refused = async (query: string, message: RegExp) =>
      expect((await t.http.get(`/api/servers/${live}/metrics?${query}`).expect(400)).body.error).toMatch(message);
    await refused('from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', /from must be before to/);
    await refused('from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&step=1', /at most 20000/);
    await refused('from=yesterday', /from must be an ISO 8601 date-time/);
    await refused('step=0', /step must not be less than 1/);
    await t.http.get('/api/servers/424242/metrics').expect(404);
  });

  it("deletes a server's history with the server", async () => {
    await t.http.delete(`/api/servers/${dead}`).expect(200);
    expect(await rows(dead)).toEqual([]);
  });
});
