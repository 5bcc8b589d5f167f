import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** Whether the request body is a multipart form (parsed by the route's upload interceptor) rather than JSON. */
export const SentAsForm = createParamDecorator((_data: unknown, context: ExecutionContext): boolean =>
  Boolean(context.switchToHttp().getRequest<Request>().is('multipart/form-data')),
);
