import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Principal, RequestContext } from '../../common/request-context';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from './access.decorators';
import { AuthService, presentedToken } from './auth.service';
import { Role, roleAllows, roleWithArticle } from './roles';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The least role a route needs: its `@RequiresRole`, else viewer for reads and operator for changes. */
export function requiredRole(method: string, declared: Role | undefined): Role {
  return declared ?? (READ_METHODS.has(method.toUpperCase()) ? 'viewer' : 'operator');
}

/**
 * Global guard of every HTTP route: identifies the caller from `Authorization: Bearer` or the login
 * cookie, then checks the route's role. Public routes pass, but still learn who is calling when they can.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // Sockets are checked once, in the handshake.
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true;
    const token = presentedToken(request.headers);
    const principal = await this.auth.authenticate(token);
    if (principal) {
      request.principal = principal;
      const store = RequestContext.current();
      if (store) store.principal = principal;
    }
    if (isPublic) return true;
    if (!principal) {
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException(
        token ? 'Invalid, expired or revoked token: sign in again' : 'Authentication required: send Authorization: Bearer <token>',
      );
    }
    const required = requiredRole(request.method, this.reflector.getAllAndOverride<Role>(REQUIRED_ROLE, targets));
    if (!roleAllows(principal.role, required)) {
      throw new ForbiddenException(`This needs the ${required} role; ${principal.username} is ${roleWithArticle(principal.role)}`);
    }
    return true;
  }
}
