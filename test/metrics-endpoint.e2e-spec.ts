import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsSampler } from '../src/modules/metrics/metrics-sampler.service';
import { closedPort, describeSsh, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TestApp } from './helpers/test-app';

const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
const UNKNOWN_ID = 987654;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  /** Metric family name → type, from the `# TYPE` lines. */
  types: Map<string, string>;
  samples: Sample[];
}

/** The text format's media type and parameters, in any order (Express sorts them). */
function expectPrometheusText(contentType: string | undefined): void {
  const [mediaType, ...parameters] = (contentType ?? '').split(';').map((part) => part.trim());
  expect(mediaType).toBe('text/plain');
  expect(parameters.sort()).toEqual(['charset=utf-8', 'version=0.0.4']);
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

/** Parses the Prometheus text format strictly: a line that is no comment, HELP, TYPE or sample fails the test. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n').filter((candidate) => candidate !== '')) {
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (new RegExp(`^# HELP ${NAME} `).test(line)) continue;
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw new Error(`Not a line of the Prometheus text format: ${line}`);
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    for (const [, name, value] of (sample[2] ?? '').matchAll(LABEL))
      labels[name] = value.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    // Go's ParseFloat, as Prometheus reads values: NaN and Inf in any letter case (prom-client writes `Nan`).
    const value = Number(sample[3].replace(/^([+-]?)inf$/i, '$1Infinity'));
    if (Number.isNaN(value) && !/^nan$/i.test(sample[3])) throw new Error(`Not a sample value: ${line}`);
    samples.push({ name: sample[1], labels, value });
  }
  return { types, samples };
}

/** The sample names a family of each type exposes: a histogram's `_bucket`, `_sum` and `_count`, a summary's too. */
function exposedNames({ types }: Exposition): Set<string> {
  const names = new Set<string>();
  for (const [family, type] of types) {
    if (type === 'histogram') ['_bucket', '_sum', '_count'].forEach((suffix) => names.add(family + suffix));
    else if (type === 'summary') ['', '_sum', '_count'].forEach((suffix) => names.add(family + suffix));
    else names.add(family);
  }
  return names;
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects: identifiers outside strings, label matchers, ranges and groupings that call nothing. */
function metricNamesIn(expr: string): string[] {
  const selectors = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...selectors.matchAll(new RegExp(`(?<![\\w.$])(${NAME})(\\s*\\()?`, 'g'))]
    .filter(([, name, call]) => call === undefined && !PROMQL_KEYWORDS.has(name.toLowerCase()))
    .map(([, name]) => name);
}

/** Every `expr` in a Grafana dashboard, panels nested in rows included, and the metric of each `label_values(metric, label)` variable. */
function dashboardQueries(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(dashboardQueries);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => {
    if (key === 'expr' && typeof value === 'string') return [value];
    if (key === 'definition' && typeof value === 'string')
      return [...value.matchAll(new RegExp(`label_values\\((${NAME})`, 'g'))].map(([, name]) => name);
    return dashboardQueries(value);
  });
}

describe('GET /metrics (Prometheus)', () => {
  let t: TestApp;

  const scrape = async (): Promise<Exposition> => {
    const res = await t.anonymous.get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    return parseExposition(res.text);
  };
  const valueOf = (exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined =>
    exposition.samples.find((sample) => sample.name === name && Object.entries(labels).every(([label, value]) => sample.labels[label] === value))
      ?.value;

  beforeAll(async () => {
    // The sampler runs when a test asks (sampleAll), so that no measurement holds a channel while another test looks.
    t = await startTestApp({ METRICS_TOKEN, METRICS_INTERVAL_SECONDS: '0', SSH_CONNECT_TIMEOUT_MS: '2000' });
  });
  afterAll(() => t?.close());

  describe('access', () => {
    it('refuses a scrape without a token, or with a wrong one, with 401 and a Bearer challenge', async () => {
      for (const authorization of [undefined, 'Bearer wrong-token-0123456789abcdef', `Bearer ${METRICS_TOKEN}x`, `Basic ${METRICS_TOKEN}`]) {
        const scrapeAs = t.anonymous.get('/metrics');
        const res = await (authorization ? scrapeAs.set('Authorization', authorization) : scrapeAs).expect(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(res.body).toEqual({ statusCode: 401, error: expect.stringContaining('METRICS_TOKEN'), request_id: expect.any(String) });
        expect(res.text).not.toContain('infinistudio_');
      }
    });

    it("takes METRICS_TOKEN, an admin's login token and a viewer's API token", async () => {
      await t.http.post('/api/users').send({ username: 'watcher', password: 'watcher-password', role: 'viewer' }).expect(201);
      const viewerLogin = await t.login('watcher', 'watcher-password');
      const created = await t.anonymous
        .post('/api/auth/tokens')
        .set('Authorization', `Bearer ${viewerLogin}`)
        .send({ name: 'prometheus' })
        .expect(201);
      const apiToken = created.body.token as string;
      expect(apiToken).toMatch(/^ist_/);

      for (const token of [METRICS_TOKEN, t.adminToken, apiToken]) {
        const res = await t.anonymous.get('/metrics').set('Authorization', `Bearer ${token}`).expect(200);
        expectPrometheusText(res.headers['content-type']);
        expect(res.text).toContain('# TYPE infinistudio_http_request_duration_seconds histogram');
      }
    });

    it('lives outside the /api prefix, and is documented as taking a token', async () => {
      await t.http.get('/api/metrics').expect(404);
      const document = (await t.http.get('/api/docs-json').expect(200)).body;
      const operation = document.paths['/metrics'].get;
      expect(operation).toMatchObject({ operationId: 'scrapeMetrics', 'x-required-role': 'viewer', security: [{ bearer: [] }, { cookie: [] }] });
      expect(Object.keys(operation.responses['200'].content)).toEqual(['text/plain; version=0.0.4; charset=utf-8']);
      expect(operation.responses['401']).toBeDefined();
      expect(operation['x-public']).toBeUndefined();
    });
  });

  describe('the exposition', () => {
    it('parses as the text format, with Node process metrics and every family of the backend', async () => {
      const exposition = await scrape();
      expect(valueOf(exposition, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(exposition.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
      expect(Object.fromEntries([...exposition.types].filter(([family]) => family.startsWith('infinistudio_')))).toEqual({
        infinistudio_http_request_duration_seconds: 'histogram',
        infinistudio_task_runs_total: 'counter',
        infinistudio_terminals_open: 'gauge',
        infinistudio_chat_streams_open: 'gauge',
        infinistudio_chat_upstream_ttfb_seconds: 'histogram',
        infinistudio_agent_call_duration_seconds: 'histogram',
        infinistudio_agent_call_failures_total: 'counter',
        infinistudio_gateway_requests_total: 'counter',
        infinistudio_gateway_tokens_total: 'counter',
        infinistudio_ssh_connections: 'gauge',
        infinistudio_ssh_open_channels: 'gauge',
        infinistudio_server_up: 'gauge',
        infinistudio_server_cpu_usage_percent: 'gauge',
        infinistudio_server_memory_usage_percent: 'gauge',
        infinistudio_server_disk_usage_percent: 'gauge',
        infinistudio_server_sample_age_seconds: 'gauge',
        infinistudio_accelerator_utilization_percent: 'gauge',
        infinistudio_accelerator_memory_used_bytes: 'gauge',
        infinistudio_accelerator_memory_total_bytes: 'gauge',
        infinistudio_accelerator_temperature_celsius: 'gauge',
        infinistudio_accelerator_power_watts: 'gauge',
      });
    });

    it('reports no open terminal and no open chat stream when there are none', async () => {
      const exposition = await scrape();
      expect(valueOf(exposition, 'infinistudio_terminals_open')).toBe(0);
      expect(valueOf(exposition, 'infinistudio_chat_streams_open')).toBe(0);
    });
  });

  describe('HTTP requests', () => {
    it('are counted by method, route template and status, never by the raw URL', async () => {
      const server = await t.http
        .post('/api/servers')
        .send({ name: 'templated', host_ip: '127.0.0.1', port: 22, username: 'u', password: 'p' })
        .expect(201);
      const id = server.body.id as number;
      await t.http.get(`/api/servers/${id}`).expect(200);
      await t.http.get(`/api/servers/${UNKNOWN_ID}`).expect(404);
      await t.http.get(`/api/no-such-route/${UNKNOWN_ID}`).expect(404);
      await t.anonymous.get(`/api/servers/${id}`).expect(401);

      const exposition = await scrape();
      const count = (labels: Record<string, string>) => valueOf(exposition, 'infinistudio_http_request_duration_seconds_count', labels);
      expect(count({ method: 'GET', route: '/api/servers/:id', status: '200' })).toBeGreaterThanOrEqual(1);
      expect(count({ method: 'GET', route: '/api/servers/:id', status: '404' })).toBeGreaterThanOrEqual(1);
      expect(count({ method: 'GET', route: '/api/servers/:id', status: '401' })).toBeGreaterThanOrEqual(1);
      expect(count({ method: 'POST', route: '/api/servers', status: '201' })).toBe(1);
      expect(count({ method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
      expect(count({ method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
      expect(
        valueOf(exposition, 'infinistudio_http_request_duration_seconds_bucket', {
          method: 'GET',
          route: '/api/servers/:id',
          status: '200',
          le: '+Inf',
        }),
      ).toBe(count({ method: 'GET', route: '/api/servers/:id', status: '200' }));

      const routes = new Set(
        exposition.samples.filter((sample) => sample.name.startsWith('infinistudio_http_')).map((sample) => sample.labels.route),
      );
      expect([...routes].filter((route) => route !== 'unmatched' && (!route.startsWith('/') || /\/\d+(\/|$)/.test(route)))).toEqual([]);
      expect(exposition.samples.filter((sample) => JSON.stringify(sample.labels).includes(String(UNKNOWN_ID)))).toEqual([]);
    });
  });

  describe('task runs', () => {
    it('are counted by outcome: a run on a closed port fails', async () => {
      const before = valueOf(await scrape(), 'infinistudio_task_runs_total', { outcome: 'failed' }) ?? 0;
      const port = await closedPort();
      const server = await t.http.post('/api/servers').send({ name: 'dead', host_ip: '127.0.0.1', port, username: 'u', password: 'p' }).expect(201);
      const task = await t.http
        .post('/api/tasks')
        .send({ name: 'never runs', command: 'true', server_id: server.body.id, schedule_type: 'once' })
        .expect(201);
      const run = await t.http.post(`/api/tasks/${task.body.id}/execute`).expect(200);
      expect(run.body.success).toBe(false);

      expect(valueOf(await scrape(), 'infinistudio_task_runs_total', { outcome: 'failed' })).toBe(before + 1);
    });
  });

  describeSsh('with a real sshd', () => {
    let sshd: TestSshd;
    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(() => sshd?.stop());

    it('counts a completed task run, and shows the warm pooled connection with no channel left open', async () => {
      const before = valueOf(await scrape(), 'infinistudio_task_runs_total', { outcome: 'completed' }) ?? 0;
      const server = await t.http
        .post('/api/servers')
        .send({ name: 'live', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
        .expect(201);
      const serverId = String(server.body.id);
      const task = await t.http
        .post('/api/tasks')
        .send({ name: 'hello', command: 'echo hello', server_id: server.body.id, schedule_type: 'once' })
        .expect(201);
      const run = await t.http.post(`/api/tasks/${task.body.id}/execute`).expect(200);
      expect(run.body).toMatchObject({ success: true, output: 'hello\n' });

      const exposition = await scrape();
      expect(valueOf(exposition, 'infinistudio_task_runs_total', { outcome: 'completed' })).toBe(before + 1);
      expect(valueOf(exposition, 'infinistudio_ssh_connections', { server_id: serverId })).toBe(1);
      expect(valueOf(exposition, 'infinistudio_ssh_open_channels', { server_id: serverId })).toBe(0);
    });

    it("gives each server's latest sample: a live one up with its usage, a dead one down with none", async () => {
      const live = await t.http
        .post('/api/servers')
        .send({ name: 'sampled', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password })
        .expect(201);
      const dead = await t.http
        .post('/api/servers')
        .send({ name: 'gone', host_ip: '127.0.0.1', port: await closedPort(), username: 'u', password: 'p' })
        .expect(201);
      const before = await scrape();
      expect(before.samples.filter((sample) => sample.labels.server === 'sampled')).toEqual([]);

      await t.app.get(MetricsSampler).sampleAll();
      const exposition = await scrape();
      const up = { server_id: String(live.body.id), server: 'sampled' };
      const down = { server_id: String(dead.body.id), server: 'gone' };
      expect(valueOf(exposition, 'infinistudio_server_up', up)).toBe(1);
      expect(valueOf(exposition, 'infinistudio_server_up', down)).toBe(0);
      for (const usage of ['cpu', 'memory', 'disk']) {
        expect(valueOf(exposition, `infinistudio_server_${usage}_usage_percent`, up)).toEqual(expect.any(Number));
        expect(valueOf(exposition, `infinistudio_server_${usage}_usage_percent`, up)).toBeGreaterThanOrEqual(0);
        expect(valueOf(exposition, `infinistudio_server_${usage}_usage_percent`, up)).toBeLessThanOrEqual(100);
        expect(valueOf(exposition, `infinistudio_server_${usage}_usage_percent`, down)).toBeUndefined();
      }
      expect(valueOf(exposition, 'infinistudio_server_sample_age_seconds', up)).toBeLessThan(60);
    });
  });

  describe('the Grafana dashboard', () => {
    it('queries only metrics the backend exports', async () => {
      const dashboard: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'deploy', 'grafana', 'infinistudio.json'), 'utf8'));
      const queries = dashboardQueries(dashboard);
      expect(queries.length).toBeGreaterThan(20);
      const queried = new Set(queries.flatMap((query) => (new RegExp(`^${NAME}$`).test(query) ? [query] : metricNamesIn(query))));
      const exported = exposedNames(await scrape());

      expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
      // The parser finds what it should: every family of the backend is on the dashboard.
      expect([...exported].filter((name) => name.startsWith('infinistudio_') && !queried.has(name) && !/_(sum|bucket|count)$/.test(name))).toEqual(
        [],
      );
    });

    it('reads metric names out of PromQL, and nothing else', () => {
      expect(
        metricNamesIn(
          'histogram_quantile(0.99, sum by (le, route) (rate(infinistudio_http_request_duration_seconds_bucket{route!="unmatched",server=~"$server"}[$__rate_interval])))',
        ),
      ).toEqual(['infinistudio_http_request_duration_seconds_bucket']);
      expect(metricNamesIn('100 * a_used_bytes / on (server_id) group_left (card) a_total_bytes or vector(0)')).toEqual([
        'a_used_bytes',
        'a_total_bytes',
      ]);
      expect(metricNamesIn('count(up == 0) without (job) > bool 1e3')).toEqual(['up']);
    });
  });
});

describe('GET /metrics with AUTH_ENABLED=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUTH_ENABLED: 'false', METRICS_INTERVAL_SECONDS: '0' });
  });
  afterAll(() => t?.close());

  it('is open like everything else', async () => {
    const res = await t.anonymous.get('/metrics').expect(200);
    expectPrometheusText(res.headers['content-type']);
    expect(parseExposition(res.text).types.get('infinistudio_task_runs_total')).toBe('counter');
  });
});
