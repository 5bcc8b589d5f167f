import 'reflect-metadata';
import { Controller, Get, Header, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { REFERENCE_HOST, ReferenceRoute, serveReference } from './protocol';

// A bare Nest app on Express: one controller, a GET handler a path returning the body as a precomputed string
// with the backend's headers; no logger, no ETag and no X-Powered-By as in src/app.setup.ts, Nest's defaults otherwise.
serveReference(async (routes) => {
  const app = await NestFactory.create<NestExpressApplication>(referenceModule(routes), { logger: false });
  app.set('etag', false);
  app.disable('x-powered-by');
  await app.listen(0, REFERENCE_HOST);
  return app.getHttpServer();
});

/**
 * The module, with its controller's handlers made from `routes`: what `@Get(path)` and `@Header(name, value)` for each
 * header on one method a route would declare, applied by hand since the paths are known only at run time.
 */
function referenceModule(routes: ReferenceRoute[]): new () => object {
  class ReferenceController {}
  routes.forEach(({ path, headers, body }, index) => {
    const text = body.toString('utf8');
    const name = `route${index}`;
    const descriptor: PropertyDescriptor = { value: () => text, writable: true, configurable: true, enumerable: false };
    Object.defineProperty(ReferenceController.prototype, name, descriptor);
    Get(path)(ReferenceController.prototype, name, descriptor);
    for (const [header, value] of headers) Header(header, value)(ReferenceController.prototype, name, descriptor);
  });
  Controller()(ReferenceController);
  class ReferenceModule {}
  Module({ controllers: [ReferenceController] })(ReferenceModule);
  return ReferenceModule;
}
