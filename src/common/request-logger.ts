import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { maskSecrets } from './secrets';

const logger = new Logger('HTTP');

/**
 * One debug line per request, with the body's secrets masked. Installed only at LOG_LEVEL=debug: as an
 * always-on Nest interceptor it cost every request an RxJS pipeline and async-hook bindings (~15% of a cached GET).
 */
export function logRequests(request: Request, response: Response, next: NextFunction): void {
  const startedAt = performance.now();
  response.once('finish', () => {
    const body = request.body && Object.keys(request.body).length ? ` ${JSON.stringify(maskSecrets(request.body))}` : '';
    const elapsed = (performance.now() - startedAt).toFixed(1);
    logger.debug(`${request.method} ${request.originalUrl} ${response.statusCode} ${elapsed}ms${body}`);
  });
  next();
}
