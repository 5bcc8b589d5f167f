import { applyDecorators, Type } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { CachedJson } from '../../database/read-cache.service';

/**
 * What a list handler returns for a CachedJson: its bytes with its strong ETag, or nothing with a 304 for a client whose
 * `If-None-Match` names it (the admin UI polls its lists, and most polls find them unchanged). `no-cache`: a cache must
 * ask again every time. The handler takes the response with `@Res({ passthrough: true })`: an interceptor would cost
 * every poll Nest's observable pipeline.
 */
export async function sendCachedJson(request: Request, response: Response, list: Promise<CachedJson>): Promise<string | undefined> {
  const { body, etag } = await list;
  response.setHeader('ETag', etag);
  response.setHeader('Cache-Control', 'no-cache');
  if (!matches(request.headers['if-none-match'], etag)) {
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    return body;
  }
  response.status(304);
  return undefined;
}

/** Whether an `If-None-Match` list names the ETag (weakly compared, as RFC 9110 asks for this header), or is `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/** The handler sends a CachedJson (a list from the read cache) with sendCachedJson: documented as `[type]`, with its ETag. */
export function JsonListResponse(type: Type<unknown>): MethodDecorator {
  return applyDecorators(
    ApiOkResponse({
      type: [type],
      headers: { ETag: { description: 'A strong ETag of the list: send it as If-None-Match', schema: { type: 'string' } } },
    }),
    ApiResponse({ status: 304, description: 'Not modified: the list is the one If-None-Match names' }),
  );
}
