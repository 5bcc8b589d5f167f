import { Inject, Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, normalizeIp, ThrottlerStorage } from '@nestjs/throttler';
import { createHash } from 'node:crypto';
import { authConfig, AuthConfig } from '../../config/configuration';
import { AuditOccurrence } from '../audit/audit.service';

/** The limits a sign-in can hit: attempts per address, failures per username and address, failures per username. */
export type SignInBucket = 'ip' | 'user_ip' | 'user';

/** A limit that refused a sign-in; the answer's Retry-After and X-RateLimit-* describe it. */
export interface Refusal {
  bucket: SignInBucket;
  limit: number;
  windowSeconds: number;
  retryAfter: number;
  /** The storage key of the lock, so that each lock is audited once however often it refuses. */
  lockKey: string;
  /** The locked username; null for the per-address limit. */
  username: string | null;
}

interface FailureBucket {
  bucket: Exclude<SignInBucket, 'ip'>;
  key: string;
  limit: number;
  windowMs: number;
}

/** The throttler name of every key below (stores keep a record per key and name). */
const STORAGE_NAME = 'sign-in';
/** A limit no count reaches: increments under it only count. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** Usernames are looked up case-insensitively, so they are counted that way. */
function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

/** Bounded, opaque storage keys whatever the username a client sends. */
function storageKey(kind: string, ...parts: string[]): string {
  return `login:${kind}:${createHash('sha256').update(parts.join('\0')).digest('base64url')}`;
}

/**
 * Counts failed sign-ins in the throttler's storage (in memory, or a shared store once one is configured), so that a
 * username is locked per client address, and everywhere only at a much higher ceiling: failures from other addresses
 * cannot lock its owner out.
 *
 * The storage only offers `increment`, so a lock is a key of its own: tripped by a hit over a limit of 0, which
 * blocks the key for the window, and read by a hit under a limit never reached, which reports the block.
 */
@Injectable()
export class SignInAttempts {
  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  /** The longest-lasting failure lock on this username from this address, if any. */
  async refusal(username: string, ip: string | null): Promise<Refusal | undefined> {
    let refusal: Refusal | undefined;
    for (const bucket of this.failureBuckets(username, ip)) {
      const lockKey = `${bucket.key}:lock`;
      const { isBlocked, timeToBlockExpire } = await this.storage.increment(lockKey, bucket.windowMs, NO_LIMIT, bucket.windowMs, STORAGE_NAME);
      if (isBlocked && timeToBlockExpire > (refusal?.retryAfter ?? 0)) {
        const { limit, windowMs } = bucket;
        refusal = {
          bucket: bucket.bucket,
          limit,
          windowSeconds: windowMs / 1000,
          retryAfter: timeToBlockExpire,
          lockKey,
          username: normalizeUsername(username),
        };
      }
    }
    return refusal;
  }

  /** Counts a failed sign-in; a bucket that reaches its limit locks for its window. */
  async recordFailure(username: string, ip: string | null): Promise<void> {
    for (const bucket of this.failureBuckets(username, ip)) {
      if ((await this.count(`${bucket.key}:failures`, bucket.windowMs)) >= bucket.limit)
        await this.storage.increment(`${bucket.key}:lock`, bucket.windowMs, 0, bucket.windowMs, STORAGE_NAME);
    }
  }

  /** True for the first request a lock refuses while it lasts (`retryAfter` seconds more). */
  async isFirstRefusal(lockKey: string, retryAfter: number): Promise<boolean> {
    return (await this.count(`${lockKey}:refused`, retryAfter * 1000)) === 1;
  }

  /**
   * The how-manieth `action` of this username and address this is in the current audit window (fixed windows of
   * LOGIN_FAILURE_CEILING_WINDOW_SECONDS, so that a count never drops within one).
   */
  async occurrence(action: string, actor: { username: string | null; ip: string | null }): Promise<AuditOccurrence> {
    const windowMs = this.config.loginFailureCeilingWindowMs;
    const window = Math.floor(Date.now() / windowMs);
    const count = await this.count(storageKey('audit', action, String(window), actor.username ?? '', actor.ip ?? ''), windowMs);
    return { count, since: new Date(window * windowMs) };
  }

  /** Counts a hit of `key`; returns its hits within the last `ttlMs`, this one included. */
  private async count(key: string, ttlMs: number): Promise<number> {
    return (await this.storage.increment(key, ttlMs, NO_LIMIT, ttlMs, STORAGE_NAME)).totalHits;
  }

  private failureBuckets(username: string, ip: string | null): FailureBucket[] {
    const name = normalizeUsername(username);
    // IPv6 clients are counted per /64, as the per-address limit does: one host holds many addresses of its subnet.
    const address = normalizeIp(ip ?? '');
    const { loginFailuresPerUserIp, loginWindowMs, loginFailureCeiling, loginFailureCeilingWindowMs } = this.config;
    return [
      { bucket: 'user_ip', key: storageKey('user-ip', name, address), limit: loginFailuresPerUserIp, windowMs: loginWindowMs },
      { bucket: 'user', key: storageKey('user', name), limit: loginFailureCeiling, windowMs: loginFailureCeilingWindowMs },
    ];
  }
}
