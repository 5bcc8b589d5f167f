import { CanActivate, ExecutionContext, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DECORATORS } from '@nestjs/swagger';
import type { Request } from 'express';

const MULTIPART = 'multipart/form-data';

/**
 * Multipart bodies are read only by the routes that declare them (`@ApiConsumes('multipart/form-data')`, where the
 * upload interceptor parses them). Sent anywhere else, the body would go unread and an update would answer "updated"
 * having changed nothing: 415 instead. The OpenAPI declaration is the rule, so the document cannot disagree with it.
 */
@Injectable()
export class MultipartRoutesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (!request.is(MULTIPART)) return true;
    const consumes = this.reflector.getAllAndOverride<string[] | undefined>(DECORATORS.API_CONSUMES, [context.getHandler(), context.getClass()]);
    if (consumes?.includes(MULTIPART)) return true;
    throw new UnsupportedMediaTypeException('This route takes application/json, not multipart/form-data');
  }
}
