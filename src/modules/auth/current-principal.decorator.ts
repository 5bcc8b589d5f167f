import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Principal } from '../../common/request-context';

/** The caller, as AuthGuard identified them (guarded routes only). */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest<{ principal: Principal }>().principal,
);
