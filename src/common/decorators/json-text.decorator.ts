import { applyDecorators, Type } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CachedJson } from '../../database/read-cache.service';

/**
 * Sends a CachedJson (a list from the read cache): its bytes with its strong ETag, or an empty 304 to a client whose
 * `If-None-Match` names it (the admin UI polls its lists, and most polls find them unchanged). `no-cache`: a cache must
 * ask again every time. The handler takes the response with `@Res()` and leaves the answer to this function: the bytes
 * go out as they are, where a value returned to Nest would pass through its reply (and a Buffer be sent as JSON).
 */
export async function sendCachedJson(request: IncomingMessage, response: ServerResponse, list: Promise<CachedJson>): Promise<void> {
  const { body, etag } = await list;
  response.setHeader('ETag', etag);
  response.setHeader('Cache-Control', 'no-cache');
  if (matches(request.headers['if-none-match'], etag)) {
    response.statusCode = 304;
    response.end();
    return;
  }
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Content-Length', body.length);
  // Straight to Node (the hot-read lane gives Node's response, not Express's): Express's send would only check again what
  // is settled here (type, freshness, length).
  response.statusCode = 200;
  response.end(body);
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
  return cachedJsonResponse([type], 'list');
}

/** The handler sends a CachedJson of one object with sendCachedJson: documented as `type`, with its ETag. */
export function JsonObjectResponse(type: Type<unknown>): MethodDecorator {
  return cachedJsonResponse(type, 'answer');
}

function cachedJsonResponse(type: Type<unknown> | [Type<unknown>], what: string): MethodDecorator {
  return applyDecorators(
    ApiOkResponse({
      type,
      headers: { ETag: { description: `A strong ETag of the ${what}: send it as If-None-Match`, schema: { type: 'string' } } },
    }),
    ApiResponse({ status: 304, description: `Not modified: the ${what} is the one If-None-Match names` }),
  );
}
