import { applyDecorators, CallHandler, ExecutionContext, Injectable, NestInterceptor, Type, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { map, Observable } from 'rxjs';
import type { CachedJson } from '../../database/read-cache.service';

/**
 * Sends a CachedJson as its bytes with its strong ETag, or as an empty 304 to a client whose `If-None-Match` names it:
 * the admin UI polls its lists, and most polls find them unchanged. `no-cache`: a cache must ask again every time.
 */
@Injectable()
export class CachedJsonInterceptor implements NestInterceptor<CachedJson, string | undefined> {
  intercept(context: ExecutionContext, next: CallHandler<CachedJson>): Observable<string | undefined> {
    const request = context.switchToHttp().getRequest<Request>();
    const response = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map(({ body, etag }) => {
        response.setHeader('ETag', etag);
        response.setHeader('Cache-Control', 'no-cache');
        if (!matches(request.headers['if-none-match'], etag)) {
          response.setHeader('Content-Type', 'application/json; charset=utf-8');
          return body;
        }
        response.status(304);
        return undefined;
      }),
    );
  }
}

/** Whether an `If-None-Match` list names the ETag (weakly compared, as RFC 9110 asks for this header), or is `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/** The handler returns a CachedJson (a list from the read cache): sent as is, with its ETag, and documented as `[type]`. */
export function JsonListResponse(type: Type<unknown>): MethodDecorator {
  return applyDecorators(
    UseInterceptors(CachedJsonInterceptor),
    ApiOkResponse({
      type: [type],
      headers: { ETag: { description: 'A strong ETag of the list: send it as If-None-Match', schema: { type: 'string' } } },
    }),
    ApiResponse({ status: 304, description: 'Not modified: the list is the one If-None-Match names' }),
  );
}
