import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Response } from 'express';

/**
 * Throttles sign-in per client IP and per username (the throttlers configured in AuthModule). Whichever
 * limit trips, the answer is a 429 with a plain `Retry-After`, in seconds.
 */
@Injectable()
export class LoginThrottlerGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(detail.timeToBlockExpire));
    throw new ThrottlerException(`Too many sign-in attempts: try again in ${detail.timeToBlockExpire} s`);
  }
}
