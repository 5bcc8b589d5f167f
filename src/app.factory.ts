import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';

/** Creates the fully configured application (not yet listening); used by main.ts and the e2e tests. */
export async function createApplication(logger?: LoggerService | false): Promise<NestExpressApplication> {
  // Body parsers are registered by configureApp with our limits.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger, bodyParser: false });
  configureApp(app);
  return app;
}
