import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import type { Role } from '../modules/auth/roles';

/** Who is calling: a signed-in user, an API token's owner, or the stand-in admin when auth is off. */
export interface Principal {
  /** Null only for the stand-in admin of AUTH_ENABLED=false. */
  userId: number | null;
  username: string;
  role: Role;
  /** Set when the caller used an API token. */
  tokenId?: number;
  /** The login token's `jti` and expiry (seconds), so logout can revoke it. */
  session?: { id: string; expiresAt: number };
}

export interface RequestContextStore {
  ip: string | null;
  principal?: Principal;
}

const storage = new AsyncLocalStorage<RequestContextStore>();

/**
 * Per-request facts (caller, client IP) that services deep in the call tree need for the audit log,
 * without threading them through every signature.
 */
export const RequestContext = {
  current(): RequestContextStore | undefined {
    return storage.getStore();
  },

  /** The caller's username; null outside a request (the scheduler, start-up). */
  callerName(): string | null {
    return storage.getStore()?.principal?.username ?? null;
  },

  run<T>(store: RequestContextStore, work: () => T): T {
    return storage.run(store, work);
  },

  middleware(request: Request, _response: Response, next: NextFunction): void {
    storage.run({ ip: request.ip ?? null }, next);
  },
};
