import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApplication } from './app.factory';
import { createOpenApiDocument } from './app.setup';

/**
 * Writes the OpenAPI document to `openapi.json` (or the path given). Run from the build
 * (`npm run openapi`) because the swagger compiler plugin contributes the DTO schemas.
 */
async function generate(target: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'infini-openapi-'));
  process.env.DATA_DIR = dataDir;
  delete process.env.DATABASE_URL;
  const app = await createApplication(false);
  try {
    await app.init();
    writeFileSync(target, `${JSON.stringify(createOpenApiDocument(app), null, 2)}\n`);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

generate(resolve(process.argv[2] ?? 'openapi.json')).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
