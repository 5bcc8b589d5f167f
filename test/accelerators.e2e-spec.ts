import { MetricsSampler } from '../src/modules/metrics/metrics-sampler.service';
import { sample } from './helpers/accelerator-samples';
import { closedPort, describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { StandInTools } from './helpers/stand-in-tools';
import { startTestApp, TestApp } from './helpers/test-app';

interface Card {
  vendor: string;
  name: string;
  index: number;
  card_id?: number;
  chip_id?: number;
  utilization: number | null;
  memory_total: number | null;
  brand?: { id: number; name: string } | null;
  accelerator_card?: { id: number; name: string } | null;
}

/**
 * The test host has no accelerators: stand-in tools on the PATH of the login shell the probe runs in print real
 * outputs of the vendors' tools, whatever arguments they get.
 */
describeSsh('accelerators of every vendor over a real sshd', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let tools: StandInTools;

  const printing = (name: string, sampleName: string) => tools.printing(name, sample(sampleName));

  beforeAll(async () => {
    tools = StandInTools.create();
    printing('nvidia-smi', 'nvidia-nvidia-smi-csv-5.txt');
    printing('npu-smi', 'huawei-npu-smi-15.txt');
    printing('cnmon', 'cambricon-cnmon-3.txt');
    printing('hy-smi', 'hygon-hy-smi-2.txt');
    // Hygon's stack ships a rocm-smi too: its cards must not be listed again as AMD's.
    printing('rocm-smi', 'amd-rocm-smi-json-3.txt');
    printing('mx-smi', 'metax-mx-smi-2.txt');
    // A tool that hangs is cut off after RESOURCES_TOOL_TIMEOUT_SECONDS; the rest is not lost.
    tools.install('xpu-smi', 'exec sleep 60');
    sshd = await startSshd({ extraConfig: tools.sshdConfig });
    t = await startTestApp({
      RESOURCES_TOOL_TIMEOUT_SECONDS: '1',
      RESOURCES_TIMEOUT_MS: '10000',
      SSH_CONNECT_TIMEOUT_MS: '2500',
      METRICS_INTERVAL_SECONDS: '0',
    });
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    tools?.remove();
  });

  const createServer = async (fields: Record<string, unknown> = {}) =>
    (
      await t.http
        .post('/api/servers')
        .send({ name: 'mixed-node', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password, ...fields })
        .expect(201)
    ).body.id as number;

  it("reports every vendor's cards in one measurement, cutting off a hanging tool", async () => {
    const id = await createServer();
    const res = await t.http.get(`/api/servers/${id}/resources`).expect(200);
    expect(res.body.error).toBeUndefined();
    for (const metric of ['cpu_usage', 'memory_usage', 'disk_usage']) expect(typeof res.body[metric]).toBe('number');
    const gpus = res.body.gpus as Card[];
    expect(gpus.map((card) => [card.vendor, card.name])).toEqual([
      ['nvidia', 'NVIDIA H100 80GB HBM3'],
      ['huawei', '310P3'],
      ['huawei', '310P3'],
      ['cambricon', 'MLU370-X8'],
      ['cambricon', 'MLU370-X8'],
      ['hygon', 'Hygon DCU'],
      ['metax', 'MetaX C500'],
    ]);
    expect(gpus[0]).toMatchObject({
      index: 0,
      utilization: 100,
      memory_used: 19818,
      memory_total: 81559,
      temperature: 59,
      power_draw: 631.95,
      health: null,
    });
    // The 300I Duo: one card, two chips.
    expect(gpus.slice(1, 3).map((card) => [card.card_id, card.chip_id])).toEqual([
      [1792, 0],
      [1792, 1],
    ]);
  });

  it('names the inventory brand and card that match each detected accelerator', async () => {
    const brand = async (name: string) => (await t.http.post('/api/brands').send({ name }).expect(201)).body.id as number;
    const card = async (brandId: number, name: string, model: string) =>
      (await t.http.post(`/api/brands/${brandId}/accelerators`).send({ name, model }).expect(201)).body.id as number;
    const nvidia = await brand('NVIDIA');
    const h100 = await card(nvidia, 'NVIDIA H100 SXM', 'H100');
    await card(nvidia, 'NVIDIA A100', 'A100');
    const huawei = await brand('华为昇腾');
    // Matched by its name where the model says something else.
    const duo = await card(huawei, '310P3', 'Atlas 300I Duo');
    const metax = await brand('沐曦');

    const id = await createServer();
    const res = await t.http.get(`/api/servers/${id}/accelerators`).expect(200);
    const matches = (res.body.accelerators as Card[]).map((found) => [found.vendor, found.brand?.id ?? null, found.accelerator_card?.id ?? null]);
    expect(matches).toEqual([
      ['nvidia', nvidia, h100],
      ['huawei', huawei, duo],
      ['huawei', huawei, duo],
      ['cambricon', null, null],
      ['cambricon', null, null],
      ['hygon', null, null],
      ['metax', metax, null],
    ]);
    expect(res.body.accelerators[0]).toMatchObject({
      brand: { id: nvidia, name: 'NVIDIA' },
      accelerator_card: { id: h100, name: 'NVIDIA H100 SXM' },
    });
  });

  it("keeps every card's history: the sampler stores them, the series name each card", async () => {
    const id = await createServer();
    const slot = new Date(Date.UTC(2026, 11, 1, 12, 0, 0));
    await t.app.get(MetricsSampler).sampleAll(slot);
    const query = `from=${slot.toISOString()}&to=${new Date(slot.getTime() + 60_000).toISOString()}&step=60`;
    const series = (await t.http.get(`/api/servers/${id}/metrics?${query}`).expect(200)).body as {
      cards: { vendor: string; index: number; name: string; utilization: (number | null)[]; memory_total: (number | null)[] }[];
    };
    expect(series.cards.map((card) => [card.vendor, card.index, card.name])).toEqual([
      ['cambricon', 0, 'MLU370-X8'],
      ['cambricon', 1, 'MLU370-X8'],
      ['huawei', 0, '310P3'],
      ['huawei', 1, '310P3'],
      ['hygon', 0, 'Hygon DCU'],
      ['metax', 0, 'MetaX C500'],
      ['nvidia', 0, 'NVIDIA H100 80GB HBM3'],
    ]);
    expect(series.cards.at(-1)).toMatchObject({ utilization: [100], memory_total: [81559] });
  });

  it('answers 404 for an unknown server, and an empty list with the reason for one it cannot reach', async () => {
    await t.http.get('/api/servers/424242/accelerators').expect(404);
    const dead = await createServer({ port: await closedPort() });
    const res = await t.http.get(`/api/servers/${dead}/accelerators`).expect(200);
    expect(res.body).toEqual({ accelerators: [], error: expect.stringMatching(/refused|connect/i) });
  });
});
