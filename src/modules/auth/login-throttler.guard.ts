import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerException,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service';
import { Refusal, SignInAttempts } from './sign-in-attempts';

/**
 * Throttles sign-in: every attempt per client address (the 'default' throttler of AuthModule), then the failure
 * locks of SignInAttempts for the username in the body. A refusal is a 429 whose Retry-After and unsuffixed
 * X-RateLimit-* headers describe the limit that refused, and is audited once per lock.
 */
@Injectable()
export class LoginThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly attempts: SignInAttempts,
    private readonly audit: AuditService,
  ) {
    super(options, storage, reflector);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!(await super.canActivate(context))) return false;
    const request = context.switchToHttp().getRequest<Request>();
    const username: unknown = (request.body as { username?: unknown } | undefined)?.username;
    // A body without a username is refused by validation next.
    const refusal = typeof username === 'string' ? await this.attempts.refusal(username, request.ip ?? null) : undefined;
    if (refusal) await this.refuse(context, refusal);
    return true;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const { limit, ttl, key, timeToBlockExpire } = detail;
    await this.refuse(context, { bucket: 'ip', limit, windowSeconds: ttl / 1000, retryAfter: timeToBlockExpire, lockKey: key, username: null });
  }

  private async refuse(context: ExecutionContext, refusal: Refusal): Promise<never> {
    const http = context.switchToHttp();
    const response = http.getResponse<Response>();
    response.setHeader('Retry-After', String(refusal.retryAfter));
    response.setHeader('X-RateLimit-Limit', String(refusal.limit));
    response.setHeader('X-RateLimit-Remaining', '0');
    response.setHeader('X-RateLimit-Reset', String(refusal.retryAfter));
    if (await this.attempts.isFirstRefusal(refusal.lockKey, refusal.retryAfter)) {
      const actor = { username: refusal.username, ip: http.getRequest<Request>().ip ?? null };
      await this.audit.recordSeries(
        {
          action: 'auth.login_throttled',
          actor,
          detail: { bucket: refusal.bucket, limit: refusal.limit, window_seconds: refusal.windowSeconds, retry_after: refusal.retryAfter },
        },
        await this.attempts.occurrence('auth.login_throttled', actor),
      );
    }
    throw new ThrottlerException(`Too many sign-in attempts: try again in ${refusal.retryAfter} s`);
  }
}
