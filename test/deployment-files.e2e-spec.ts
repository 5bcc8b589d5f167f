import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { validateEnvironment } from '../src/config/environment';
import { validateObservabilityEnvironment } from '../src/observability/observability.config';

const root = join(__dirname, '..');

interface ComposeService {
  build?: string;
  image?: string;
  profiles?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

/** What the compose file is given in the test: the one variable it insists on. */
const COMPOSE_VARIABLES: Record<string, string> = { POSTGRES_PASSWORD: 'chosen-by-the-operator' };

/**
 * What `docker compose` makes of `${NAME:-default}` (the value, or the default when unset or empty) and of
 * `${NAME:?message}` (the value, or it refuses to start with the message).
 */
function interpolated(value: string, variables = COMPOSE_VARIABLES): string {
  return value.replace(/\$\{([A-Z_]+):([-?])([^}]*)\}/g, (_, name: string, kind: string, fallback: string) => {
    if (variables[name]) return variables[name];
    if (kind === '?') throw new Error(`${name}: ${fallback}`);
    return fallback;
  });
}

/** The exec-form CMD of the image (the last one wins, as in Docker); exec form is a JSON array. */
function imageCommand(dockerfile: string): string[] {
  const cmd = dockerfile
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .pop();
  if (!cmd) throw new Error('The Dockerfile has no CMD');
  return JSON.parse(cmd.slice('CMD '.length)) as string[];
}

describe('docker compose file', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  const backend = compose.services.backend;
  const postgres = compose.services.postgres;
  const backendEnv = Object.fromEntries(Object.entries(backend.environment ?? {}).map(([name, value]) => [name, interpolated(value)]));

  it('has the backend built from this repository and a PostgreSQL server, and nothing else by default', () => {
    expect(
      Object.entries(compose.services)
        .filter(([, service]) => !service.profiles)
        .map(([name]) => name)
        .sort(),
    ).toEqual(['backend', 'postgres']);
    expect(backend.build).toBe('.');
    expect(postgres.image).toMatch(/^postgres:\d+$/);
  });

  it('gives the backend an environment it accepts, pointing at the compose PostgreSQL database', () => {
    const config = validateEnvironment(backendEnv);
    const database = new URL(config.DATABASE_URL!);
    const postgresEnv = Object.fromEntries(Object.entries(postgres.environment ?? {}).map(([name, value]) => [name, interpolated(value)]));
    expect(database.protocol).toBe('postgres:');
    expect(database.hostname).toBe('postgres');
    expect(database.port).toBe('5432');
    expect(database.username).toBe(postgresEnv.POSTGRES_USER);
    expect(database.password).toBe(postgresEnv.POSTGRES_PASSWORD);
    expect(database.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`);
  });

  it('refuses to start without POSTGRES_PASSWORD rather than with a default anyone can read here', () => {
    for (const service of [backend, postgres]) {
      expect(() => Object.values(service.environment ?? {}).map((value) => interpolated(value, {}))).toThrow(
        /^POSTGRES_PASSWORD: set POSTGRES_PASSWORD/,
      );
    }
  });

  it('publishes the port the backend listens on', () => {
    const { PORT } = validateEnvironment(backendEnv);
    expect(backend.ports).toEqual([`${PORT}:${PORT}`]);
  });

  it('starts the backend only once PostgreSQL answers its health check', () => {
    expect(backend.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(postgres.healthcheck?.test).toEqual(expect.arrayContaining([expect.stringContaining('pg_isready')]));
  });

  it("keeps the backend's data directory and the database in declared named volumes", () => {
    const { DATA_DIR } = validateEnvironment(backendEnv);
    expect(backend.volumes).toEqual([`backend-data:${DATA_DIR}`]);
    expect(postgres.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes).sort()).toEqual(['backend-data', 'grafana-data', 'postgres-data', 'prometheus-data']);
  });

  describe('the monitoring profile', () => {
    const prometheus = compose.services.prometheus;
    const grafana = compose.services.grafana;
    /** `./deploy/…:/etc/…:ro` → the file in this repository, by where the container sees it. */
    const mounts = (service: ComposeService) =>
      Object.fromEntries(
        (service.volumes ?? []).filter((volume) => volume.startsWith('./')).map((volume) => [volume.split(':')[1], join(root, volume.split(':')[0])]),
      );

    it('adds Prometheus and Grafana, only when asked for', () => {
      expect(prometheus.profiles).toEqual(['monitoring']);
      expect(grafana.profiles).toEqual(['monitoring']);
      for (const file of [...Object.values(mounts(prometheus)), ...Object.values(mounts(grafana))]) expect(existsSync(file)).toBe(true);
    });

    it("has Prometheus scrape the backend's /metrics with the METRICS_TOKEN the backend is given", () => {
      const { PORT } = validateEnvironment(backendEnv);
      const config = parse(readFileSync(mounts(prometheus)['/etc/prometheus/prometheus.yml'], 'utf8')) as {
        scrape_configs: { metrics_path: string; authorization: { credentials_file: string }; static_configs: { targets: string[] }[] }[];
      };
      const [job] = config.scrape_configs;
      expect(job.metrics_path).toBe('/metrics');
      expect(job.static_configs).toEqual([{ targets: [`backend:${PORT}`] }]);
      expect(backend.environment?.METRICS_TOKEN).toBe('${METRICS_TOKEN:-}');
      expect(prometheus.environment?.METRICS_TOKEN).toBe('${METRICS_TOKEN:-}');
      // The entry point writes the token where the scrape config reads it ($$ is a literal $ for compose).
      expect(prometheus.entrypoint?.join(' ')).toContain(
        `printf %s "$$METRICS_TOKEN" > ${job.authorization.credentials_file} && exec /bin/prometheus`,
      );
      expect(
        validateObservabilityEnvironment({ METRICS_TOKEN: interpolated(backend.environment?.METRICS_TOKEN ?? '') }).METRICS_TOKEN,
      ).toBeUndefined();
    });

    it('provisions the Prometheus data source and the InfiniStudio dashboard in Grafana', () => {
      const files = mounts(grafana);
      const datasources = parse(readFileSync(join(files['/etc/grafana/provisioning'], 'datasources', 'prometheus.yml'), 'utf8')) as {
        datasources: { type: string; url: string }[];
      };
      expect(datasources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
      const dashboards = parse(readFileSync(join(files['/etc/grafana/provisioning'], 'dashboards', 'infinistudio.yml'), 'utf8')) as {
        providers: { options: { path: string } }[];
      };
      const dashboardFile = files[`${dashboards.providers[0].options.path}/infinistudio.json`];
      expect(dashboardFile).toBe(join(root, 'deploy', 'grafana', 'infinistudio.json'));
      expect((JSON.parse(readFileSync(dashboardFile, 'utf8')) as { uid: string }).uid).toBe('infinistudio');
    });
  });
});

/**
 * The image runs the compiled backend: the file its CMD names exists after the build its Dockerfile runs. Built with
 * `tsc --noCheck` from tsconfig.build.json, which emits what `nest build` does without the type check (CI runs that).
 */
describe('docker image entry point', () => {
  let buildDir: string;

  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'infini-build-'));
    await promisify(execFile)(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--noCheck', '--outDir', buildDir, '--sourceMap', 'false'],
      {
        cwd: root,
      },
    );
  }, 60_000);

  afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

  it('is a node script that the build emits', () => {
    const [runtime, script] = imageCommand(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    expect(runtime).toBe('node');
    // The image copies the build's outDir (dist/) beside package.json; here the build went to buildDir instead.
    const outDir = (JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } }).compilerOptions
      .outDir;
    const inOutDir = posix.relative(posix.normalize(outDir), posix.normalize(script));
    expect(inOutDir.startsWith('..')).toBe(false);
    expect(existsSync(join(buildDir, inOutDir))).toBe(true);
  });
});
