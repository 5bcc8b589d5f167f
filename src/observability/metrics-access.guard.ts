import { applyDecorators, CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../common/request-context';
import { PUBLIC_ROUTE } from '../modules/auth/access.decorators';
import { ObservabilityConfig, observabilityConfig } from './observability.config';

/** Equal length digests, so that the comparison takes as long whatever the presented token and however much of it matches. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Lets a scrape through with any user's token (a login or API token of any role, identified by the global AuthGuard)
 * or with METRICS_TOKEN as a bearer token; with AUTH_ENABLED=false everyone is the stand-in admin, so it is open.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(@Inject(observabilityConfig.KEY) private readonly config: ObservabilityConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    if (request.principal) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (this.config.metricsToken && bearer && sameSecret(bearer, this.config.metricsToken)) return true;
    context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
    // As the global AuthGuard words it, naming METRICS_TOKEN too.
    throw new UnauthorizedException(
      bearer
        ? 'Invalid, expired or revoked token, and not METRICS_TOKEN'
        : 'Authentication required: send Authorization: Bearer <token or METRICS_TOKEN>',
    );
  }
}

/**
 * METRICS_TOKEN is no user's token, so the global AuthGuard, which would refuse it, lets the route pass as if public
 * (still identifying users' tokens) and MetricsAccessGuard decides. Not `@Public()`: the document must not call it open.
 */
export function ScrapeAccess(): MethodDecorator {
  return applyDecorators(SetMetadata(PUBLIC_ROUTE, true), UseGuards(MetricsAccessGuard));
}
