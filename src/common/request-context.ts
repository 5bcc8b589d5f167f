import type { IncomingMessage } from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
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
  /** The API token's gateway limits per minute (null: none). */
  tokenLimits?: { rpm: number | null; tpm: number | null };
  /** The login token's `jti` and expiry (seconds), so logout can revoke it. */
  session?: { id: string; expiresAt: number };
}

export interface RequestContextStore {
  /** Names the request in every log line it causes, in its X-Request-Id response header and in 5xx error bodies. */
  requestId: string;
  ip: string | null;
  principal?: Principal;
}

const storage = new AsyncLocalStorage<RequestContextStore>();

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** A caller's own id is kept only when it cannot forge or break a log line: short, and of safe characters. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The caller's X-Request-Id when it is acceptable (so a proxy's or client's id follows the request here), else a new one. */
export function requestIdFor(request: Pick<IncomingMessage, 'headers'>): string {
  const offered = request.headers['x-request-id'];
  return typeof offered === 'string' && ACCEPTABLE_REQUEST_ID.test(offered) ? offered : randomUUID();
}

/**
 * Per-request facts (request id, caller, client IP) that services deep in the call tree need for the audit log,
 * without threading them through every signature.
 */
export const RequestContext = {
  current(): RequestContextStore | undefined {
    return storage.getStore();
  },

  /** The id of the request being handled; undefined outside a request. */
  requestId(): string | undefined {
    return storage.getStore()?.requestId;
  },

  /** The caller's username; null outside a request (the scheduler, start-up). */
  callerName(): string | null {
    return storage.getStore()?.principal?.username ?? null;
  },

  run<T>(store: RequestContextStore, work: () => T): T {
    return storage.run(store, work);
  },

  /** Names the request and echoes its id; first of all middleware, so that every answer carries the header. */
  middleware: (request: Request, response: Response, next: NextFunction): void => {
    const requestId = requestIdFor(request);
    response.setHeader(REQUEST_ID_HEADER, requestId);
    storage.run({ requestId, ip: request.ip ?? null }, next);
  },
};
