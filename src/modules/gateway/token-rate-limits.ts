import { HttpStatus, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RedisConnections } from '../../cluster/redis-connections';
import { Principal } from '../../common/request-context';
import { OpenAiException } from '../chat/openai-errors';

const WINDOW_SECONDS = 60;
/** The counters count past any limit; each token's own limit is compared with what they hold. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The per-minute gateway limits of API tokens (`rpm_limit`, `tpm_limit`), in fixed one-minute windows per token.
 * Requests count when admitted; tokens when the model server reports them, so a call that starts under the token
 * limit finishes even if it ends over it, and the next one waits for the window. Counted in Redis when REDIS_URL is
 * set, so the limits hold across instances; in memory otherwise, and while Redis is away (each instance then counts
 * what it serves). Answers carry OpenAI's `x-ratelimit-*` headers; a refusal is a 429 with Retry-After.
 */
@Injectable()
export class TokenRateLimits {
  private readonly requests: RateLimiterAbstract;
  private readonly tokens: RateLimiterAbstract;

  constructor(redis: RedisConnections) {
    this.requests = perMinuteCounter('rpm', redis);
    this.tokens = perMinuteCounter('tpm', redis);
  }

  /** Counts the request, or refuses it (429) when the token is at either limit; sets the rate-limit headers. */
  async admit(principal: Principal, response: Response): Promise<void> {
    const { tokenId, tokenLimits } = principal;
    if (tokenId === undefined || !tokenLimits) return;
    if (tokenLimits.tpm !== null) {
      const spent = await this.tokens.get(String(tokenId));
      const used = spent?.consumedPoints ?? 0;
      setHeaders(response, 'tokens', tokenLimits.tpm, used, spent);
      if (used >= tokenLimits.tpm) throw refusal(response, 'tokens', tokenLimits.tpm, spent!);
    }
    if (tokenLimits.rpm !== null) {
      const counted = await this.requests.consume(String(tokenId), 1);
      setHeaders(response, 'requests', tokenLimits.rpm, counted.consumedPoints, counted);
      if (counted.consumedPoints > tokenLimits.rpm) throw refusal(response, 'requests', tokenLimits.rpm, counted);
    }
  }

  /** Adds the tokens a call used to its token's minute. */
  async spend(principal: Principal, tokens: number): Promise<void> {
    if (principal.tokenId === undefined || principal.tokenLimits?.tpm == null || tokens <= 0) return;
    await this.tokens.penalty(String(principal.tokenId), tokens);
  }
}

type Limited = 'requests' | 'tokens';

function perMinuteCounter(keyPrefix: string, redis: RedisConnections): RateLimiterAbstract {
  const options = { points: UNBOUNDED, duration: WINDOW_SECONDS, keyPrefix: `gateway:${keyPrefix}` };
  if (!redis.enabled) return new RateLimiterMemory(options);
  return new RateLimiterRedis({
    ...options,
    storeClient: redis.commands(),
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}

function setHeaders(response: Response, limited: Limited, limit: number, used: number, window: RateLimiterRes | null): void {
  response.setHeader(`x-ratelimit-limit-${limited}`, String(limit));
  response.setHeader(`x-ratelimit-remaining-${limited}`, String(Math.max(0, limit - used)));
  response.setHeader(`x-ratelimit-reset-${limited}`, `${secondsLeft(window)}s`);
}

function refusal(response: Response, limited: Limited, limit: number, window: RateLimiterRes): OpenAiException {
  const wait = secondsLeft(window);
  response.setHeader('Retry-After', String(wait));
  const per = limited === 'requests' ? 'requests per minute (rpm_limit)' : 'tokens per minute (tpm_limit)';
  return new OpenAiException(
    HttpStatus.TOO_MANY_REQUESTS,
    `Rate limit reached for this API token: ${limit} ${per}. Try again in ${wait} s.`,
    'rate_limit_exceeded',
    null,
    limited,
  );
}

/** Whole seconds until the window ends, at least 1: Retry-After 0 would invite an immediate retry. */
function secondsLeft(window: RateLimiterRes | null): number {
  return Math.max(1, Math.ceil((window?.msBeforeNext ?? WINDOW_SECONDS * 1000) / 1000));
}
