import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { Principal } from '../common/request-context';
import { HttpConfig, httpConfig } from '../config/configuration';
import { AuthService, presentedToken } from '../modules/auth/auth.service';
import { LoginPage } from './login-page';
import { normalisedOrigins, safeNextTarget } from './next-target';
import { PageOutcome, signInPageOutcome, signOutOutcome } from './sign-in-flow';
import { isCrossSite } from './ui-requests';

/** A request as AuthGuard leaves it: with the caller when its token (the cookie, for a browser) is valid. */
export type IdentifiedRequest = Request & { principal?: Principal };

/** The browser's way in and out: the sign-in page at /login and /logout. */
@Injectable()
export class SignInPages {
  /** CORS_ORIGINS: the admin UI's dev server, whose pages use the cookie too. */
  private readonly allowedNextOrigins: ReadonlySet<string>;
  readonly page: LoginPage;

  constructor(
    private readonly auth: AuthService,
    @Inject(httpConfig.KEY) http: HttpConfig,
  ) {
    this.allowedNextOrigins = normalisedOrigins(http.corsOrigins);
    this.page = new LoginPage(this.allowedNextOrigins);
  }

  /** The request's `next`, when it is a place the browser may be sent to (see safeNextTarget). */
  private nextTarget(request: Request): string | undefined {
    return this.safeTarget(request, request.query.next);
  }

  /** `target` when the browser may be sent there: a path on this backend or a URL on its own or an allowed origin. */
  safeTarget(request: Request, target: unknown): string | undefined {
    // The origin the browser addressed; Express reads X-Forwarded-Proto/-Host only from TRUST_PROXY's proxies.
    return safeNextTarget(target, `${request.protocol}://${request.host}`, this.allowedNextOrigins);
  }

  signIn(request: IdentifiedRequest): PageOutcome {
    return signInPageOutcome({
      signedIn: request.principal !== undefined,
      nextGiven: request.query.next !== undefined,
      next: this.nextTarget(request),
    });
  }

  /** Ends the request's session like `POST /api/auth/logout` and says where to go; the caller clears the cookie. */
  async signOut(request: IdentifiedRequest): Promise<{ endSession: boolean; redirect: string }> {
    const outcome = signOutOutcome({ crossSite: isCrossSite(request.headers), next: this.nextTarget(request) });
    if (outcome.endSession && request.principal?.session) await this.auth.logout(request.principal);
    return outcome;
  }

  /** Whether the request carries a valid session (anyone does, with authentication off). */
  async isSignedIn(request: Request): Promise<boolean> {
    return (await this.auth.authenticate(presentedToken(request.headers))) !== null;
  }
}
