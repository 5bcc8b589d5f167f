import 'reflect-metadata';
import { BackendLogger } from './common/backend-logger';
import { loadDotEnvFile } from './config/dot-env';
import type { HttpConfig } from './config/configuration';
import { environment, logLevelsUpTo } from './config/environment';

async function bootstrap(): Promise<void> {
  loadDotEnvFile();
  // A bad setting stops the process here, before anything starts, with a message naming the variable.
  const logLevel = environment().LOG_LEVEL;
  // Loaded only now: the configuration is read as the application module loads, and must see .env's variables.
  const { createApplication } = await import('./app.factory');
  const { httpConfig } = await import('./config/configuration');
  const { startupReport } = await import('./startup-report');
  const app = await createApplication(new BackendLogger({ logLevels: logLevelsUpTo(logLevel) }));
  const http = app.get<HttpConfig>(httpConfig.KEY);
  await app.listen(http.port, http.host);
  process.stdout.write(startupReport(app));
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
