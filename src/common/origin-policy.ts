import { parse as parseCookies } from 'cookie';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ForbiddenException } from '@nestjs/common';
import type { TrustProxy } from './trust-proxy';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `scheme://host[:port]` as browsers write it in `Origin`, or undefined for anything else (`null`, garbage). */
function normaliseOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(',')[0].trim() || undefined;
}

/**
 * Which browser origins may drive the backend with ambient credentials (the login cookie, or none at all when
 * authentication is off): the backend's own origin and `CORS_ORIGINS`. `*` opens CORS to token-bearing scripts,
 * never this list — cross-origin cookies are not allowed by `*` either.
 */
export class OriginPolicy {
  private readonly allowed: Set<string>;

  constructor(
    corsOrigins: string[],
    private readonly trustProxy: TrustProxy,
  ) {
    this.allowed = new Set(corsOrigins.map(normaliseOrigin).filter((origin): origin is string => origin !== undefined));
  }

  /**
   * Why a browser request from another origin is refused, or undefined when it may go on. The origin is
   * `Origin`, or without one the origin of `Referer`.
   * - `authenticated`: the request carries the login cookie. One that names no origin is refused (a page that
   *   suppresses both headers must not get through).
   * - Otherwise no credential is involved (authentication off), and the backend's own origin counts only under an
   *   address or `localhost`: a page can rebind its own host name's DNS to this machine, and then its origin is
   *   the `Host` it sends. Host names the backend is reached by must be listed in CORS_ORIGINS.
   */
  refusal(request: IncomingMessage, authenticated: boolean): string | undefined {
    const claimed = request.headers.origin ?? request.headers.referer;
    if (claimed === undefined) return authenticated ? 'Cross-site request refused: the cookie is sent without Origin or Referer' : undefined;
    const origin = normaliseOrigin(claimed);
    if (origin !== undefined && (this.allowed.has(origin) || this.isOwn(origin, request, authenticated))) return undefined;
    return `Cross-site request refused: origin ${JSON.stringify(claimed.slice(0, 200))} is neither this backend nor in CORS_ORIGINS`;
  }

  private isOwn(origin: string, request: IncomingMessage, authenticated: boolean): boolean {
    if (origin !== this.ownOrigin(request)) return false;
    const { hostname } = new URL(origin);
    return authenticated || hostname === 'localhost' || isIP(hostname.replace(/^\[|\]$/g, '')) !== 0;
  }

  /** The origin the client addressed: its `Host` (or a trusted proxy's `X-Forwarded-Host`/`-Proto`). */
  private ownOrigin(request: IncomingMessage): string | undefined {
    const viaTrustedProxy = this.trustProxy(request.socket.remoteAddress ?? '', 0);
    const forwarded = (name: string) => (viaTrustedProxy ? firstHeaderValue(request.headers[name]) : undefined);
    const protocol = forwarded('x-forwarded-proto') ?? ((request.socket as TLSSocket).encrypted ? 'https' : 'http');
    const host = forwarded('x-forwarded-host') ?? request.headers.host;
    return host ? normaliseOrigin(`${protocol}://${host}`) : undefined;
  }
}

/**
 * Whether a request's credentials come with the browser whatever page sent it: the login cookie (no
 * `Authorization` header, which a foreign page cannot set without CORS) or, with authentication off, nothing.
 */
export function usesAmbientCredentials(headers: IncomingHttpHeaders, cookieName: string, authEnabled: boolean): boolean {
  if (!authEnabled) return true;
  return !headers.authorization && headers.cookie !== undefined && parseCookies(headers.cookie)[cookieName] !== undefined;
}

/**
 * Cross-site request forgery guard for HTTP: a state-changing request that rides on the cookie must come from an
 * allowed origin and say so; with authentication off, a state-changing request that names a foreign origin is
 * refused (scripts send no Origin and pass). Runs before the body parsers, so a refused body is never read.
 */
export function refuseCrossSiteRequests(policy: OriginPolicy, cookieName: string, authEnabled: boolean) {
  return (request: Request, _response: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(request.method) || !usesAmbientCredentials(request.headers, cookieName, authEnabled)) return next();
    const refusal = policy.refusal(request, authEnabled);
    next(refusal ? new ForbiddenException(refusal) : undefined);
  };
}
