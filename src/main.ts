import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApplication } from './app.factory';
import { RequestIdLogger } from './common/request-id-logger';
import { HttpConfig, httpConfig } from './config/configuration';
import { environment, logLevelsUpTo } from './config/environment';

async function bootstrap(): Promise<void> {
  // A bad setting stops the process here, before anything starts, with a message naming the variable.
  const logLevel = environment().LOG_LEVEL;
  const app = await createApplication(new RequestIdLogger({ logLevels: logLevelsUpTo(logLevel) }));
  const http = app.get<HttpConfig>(httpConfig.KEY);
  await app.listen(http.port, http.host);
  Logger.log(`Listening on http://${http.host}:${http.port} (API docs at /api/docs)`, 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
