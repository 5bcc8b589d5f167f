import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = join(__dirname, '..');

describe('docker deployment files', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));

  it('builds the backend from the Dockerfile and runs it on PostgreSQL', () => {
    expect(compose.services.backend.build).toBe('.');
    expect(compose.services.backend.environment.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(compose.services.backend.depends_on.postgres.condition).toBe('service_healthy');
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
  });

  it('keeps data in named volumes that are declared', () => {
    const mounted = [...compose.services.backend.volumes, ...compose.services.postgres.volumes].map(
      (volume: string) => volume.split(':')[0],
    );
    expect(mounted).toEqual(['backend-data', 'postgres-data']);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(mounted));
  });

  it('has a Dockerfile that builds and starts the compiled backend', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/main.js"\]/);
  });
});
