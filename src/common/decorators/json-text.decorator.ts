import { applyDecorators, Header, Type } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';

/** The handler returns JSON text already serialized (from the read cache); it is sent as is and documented as `[type]`. */
export function JsonListResponse(type: Type<unknown>): MethodDecorator {
  return applyDecorators(Header('Content-Type', 'application/json; charset=utf-8'), ApiOkResponse({ type: [type] }));
}
