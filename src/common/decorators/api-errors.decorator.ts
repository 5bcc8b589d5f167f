import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponse } from '../dto/responses.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: malformed JSON, a missing, wrong or unknown field (details name each one)',
  404: 'No resource with this id',
  409: 'The change would leave dangling references',
  413: 'Upload too large',
  415: 'Unsupported media type',
  502: 'The upstream host failed',
  503: 'A dependency is unavailable',
  504: 'The upstream host timed out',
};

/** Documents the error answers a route can give, all with the contract's error body. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponse })));
}
