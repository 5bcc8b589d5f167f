import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Role } from './roles';

export const PUBLIC_ROUTE = 'auth:public';
export const REQUIRED_ROLE = 'auth:required-role';

/** Open to anyone, signed in or not (login, health). Declared in the OpenAPI document as `x-public`. */
export function Public(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(PUBLIC_ROUTE, true), ApiExtension('x-public', true));
}

/**
 * The least role a route needs, when it differs from the default (reads: viewer; changes: operator).
 * Declared in the OpenAPI document as `x-required-role`.
 */
export function RequiresRole(role: Role): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(REQUIRED_ROLE, role), ApiExtension('x-required-role', role));
}
