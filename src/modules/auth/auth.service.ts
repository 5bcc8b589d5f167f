import { ForbiddenException, Inject, Injectable, Logger, OnApplicationBootstrap, UnauthorizedException, BadRequestException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { parse as parseCookies } from 'cookie';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { authConfig, AuthConfig } from '../../config/configuration';
import { Principal, RequestContext } from '../../common/request-context';
import { AuditService } from '../audit/audit.service';
import { SignInAttempts } from './sign-in-attempts';
import { PasswordHasher } from './password-hasher';
import { ROLES, Role } from './roles';
import { TokensRepository } from './tokens.repository';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

export const SESSION_COOKIE = 'infini_token';
/** API tokens carry a prefix so they are told from login tokens at a glance (and by secret scanners). */
export const API_TOKEN_PREFIX = 'ist_';
/** Last use of an API token is written at most this often. */
const TOKEN_TOUCH_INTERVAL_MS = 60_000;
/** The most login tokens whose signature is remembered as checked; past it the oldest is forgotten (and checked again). */
const VERIFIED_TOKENS_MAX = 10_000;
/** A login token's `jti` is stored at logout in revoked_sessions.id, a varchar(64). */
const REVOKED_SESSION_ID_MAX = 64;

/** The caller when AUTH_ENABLED=false: everyone is an admin. */
export const STAND_IN_ADMIN: Principal = Object.freeze({ userId: null, username: 'anonymous', role: 'admin' });

interface LoginTokenClaims {
  sub: string;
  jti: string;
  exp: number;
  /** The user's password_changed_at (ms) when issued: a password change ends every earlier session. */
  pwd: number;
}

/** Only claims as openSession writes them: a token signed with the secret but holding anything else is refused. */
function isLoginTokenClaims(claims: Record<string, unknown>): claims is Record<string, unknown> & LoginTokenClaims {
  const { sub, jti, exp, pwd } = claims;
  return (
    typeof sub === 'string' &&
    // A user id in decimal, short enough to be a safe integer.
    /^[1-9][0-9]{0,14}$/.test(sub) &&
    typeof jti === 'string' &&
    jti.length > 0 &&
    jti.length <= REVOKED_SESSION_ID_MAX &&
    typeof exp === 'number' &&
    Number.isSafeInteger(pwd)
  );
}

export interface Session {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: { id: number; username: string; role: Role };
}

/** Requests and socket handshakes present a token as `Authorization: Bearer`, or as the login cookie. */
export function presentedToken(headers: { authorization?: string; cookie?: string }): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  if (bearer) return bearer[1];
  return headers.cookie ? parseCookies(headers.cookie)[SESSION_COOKIE] : undefined;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface FirstStartAdmin {
  username: string;
  /** Unset when it came from ADMIN_PASSWORD. */
  generatedPassword?: string;
}

/** Sign-in, sessions and the checks of every presented token. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);
  /** Verified against when the username is unknown, so a miss costs as long as a wrong password. */
  private readonly decoyHash = PasswordHasher.hash(randomBytes(16).toString('hex'));
  private readonly lastTouched = new Map<number, number>();
  private readonly verifiedTokens = new Map<string, LoginTokenClaims>();
  private createdAdmin?: FirstStartAdmin;

  constructor(
    private readonly users: UsersRepository,
    private readonly tokens: TokensRepository,
    private readonly jwt: JwtService,
    private readonly audit: AuditService,
    private readonly attempts: SignInAttempts,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** The admin this start created (no users yet), with its password when generated: main.ts shows it once. */
  get firstStartAdmin(): FirstStartAdmin | undefined {
    return this.createdAdmin;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.enabled) {
      this.logger.warn(
        '!!! AUTH_ENABLED=false: authentication is OFF. Anyone who can reach this port is an admin and can run ' +
          'commands on every registered server. Use this only on a trusted single-user machine. !!!',
      );
      return;
    }
    await this.createFirstAdmin();
  }

  /**
   * Verifies a username and password and opens a session. Failures count towards the sign-in locks (see
   * LoginThrottlerGuard) and are audited as one row per username and address per LOGIN_FAILURE_CEILING_WINDOW_SECONDS,
   * with a count; unknown usernames share one row per address, so that made-up names cannot flood the audit log.
   */
  async login(username: string, password: string): Promise<Session> {
    const user = await this.users.findByUsername(username);
    const matches = await PasswordHasher.verify(password, user?.password_hash ?? (await this.decoyHash));
    const ip = RequestContext.current()?.ip ?? null;
    if (!user || !matches || user.disabled) {
      const reason = !user ? 'unknown user' : !matches ? 'wrong password' : 'account disabled';
      await this.attempts.recordFailure(username, ip);
      const actor = { username: user?.username ?? null, ip };
      await this.audit.recordSeries(
        { action: 'auth.login_failed', actor, detail: user ? { reason } : { reason, username } },
        await this.attempts.occurrence('auth.login_failed', actor),
      );
      // A disabled account is only named to someone who knows its password.
      throw new UnauthorizedException(user && matches ? 'This account is disabled' : 'Invalid username or password');
    }
    await this.audit.record({ action: 'auth.login', target: `user:${user.id}`, actor: { username: user.username, ip } });
    return this.openSession(user);
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.session) await this.tokens.revokeSession(principal.session.id, new Date(principal.session.expiresAt * 1000));
    await this.audit.record({ action: 'auth.logout', target: principal.userId === null ? undefined : `user:${principal.userId}` });
  }

  /** Changes the caller's own password; every other session of theirs ends, and a fresh one is returned. */
  async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<Session> {
    const user = principal.userId === null ? null : await this.users.findById(principal.userId);
    if (!user) throw new BadRequestException('Passwords belong to users: authentication is disabled');
    if (!(await PasswordHasher.verify(currentPassword, user.password_hash))) {
      throw new ForbiddenException('current_password is wrong');
    }
    await this.users.update(user.id, { password_hash: await PasswordHasher.hash(newPassword), password_changed_at: new Date() });
    await this.audit.record({ action: 'auth.password_change', target: `user:${user.id}` });
    return this.openSession((await this.users.findById(user.id))!);
  }

  /** The caller behind a login or API token, or null when the token is not (or no longer) valid. */
  async authenticate(token: string | undefined): Promise<Principal | null> {
    if (!this.config.enabled) return STAND_IN_ADMIN;
    if (!token) return null;
    return token.startsWith(API_TOKEN_PREFIX) ? this.authenticateApiToken(token) : this.authenticateLoginToken(token);
  }

  private async authenticateLoginToken(token: string): Promise<Principal | null> {
    const claims = await this.verifiedClaims(token);
    if (!claims) return null;
    let user = await this.users.findById(Number(claims.sub));
    // A token newer than the cached row: the password was changed where this process could not hear it (the admin
    // command line, another instance without Redis), then signed in with. Only then is the row read again.
    if (user && passwordChangedAt(user) < claims.pwd) user = await this.users.findFreshById(user.id);
    if (!user || user.disabled || passwordChangedAt(user) !== claims.pwd) return null;
    if ((await this.tokens.revokedSessionIds()).has(claims.jti)) return null;
    return { userId: user.id, username: user.username, role: user.role, session: { id: claims.jti, expiresAt: claims.exp } };
  }

  /**
   * The claims of a login token signed with our secret and not expired. The signature's HMAC (about 40 µs, a good
   * part of a cached request) is checked once per token and remembered; expiry, the user's state, password changes
   * and logout are still checked at every use, by the caller.
   */
  private async verifiedClaims(token: string): Promise<LoginTokenClaims | null> {
    const known = this.verifiedTokens.get(token);
    if (known) {
      if (known.exp * 1000 > Date.now()) return known;
      this.verifiedTokens.delete(token);
      return null;
    }
    let claims: Record<string, unknown>;
    try {
      claims = await this.jwt.verifyAsync<Record<string, unknown>>(token);
    } catch {
      return null;
    }
    if (!isLoginTokenClaims(claims)) return null;
    if (this.verifiedTokens.size >= VERIFIED_TOKENS_MAX) this.verifiedTokens.delete(this.verifiedTokens.keys().next().value!);
    this.verifiedTokens.set(token, claims);
    return claims;
  }

  private async authenticateApiToken(token: string): Promise<Principal | null> {
    const stored = await this.tokens.findByHash(hashApiToken(token));
    if (!stored || (stored.expires_at && stored.expires_at.getTime() <= Date.now())) return null;
    const user = await this.users.findById(stored.user_id);
    if (!user || user.disabled) return null;
    this.touch(stored.id);
    // A token never outranks its owner, even after the owner is demoted.
    const role = ROLES[Math.min(ROLES.indexOf(stored.role), ROLES.indexOf(user.role))];
    return {
      userId: user.id,
      username: user.username,
      role,
      tokenId: stored.id,
      tokenLimits: { rpm: stored.rpm_limit, tpm: stored.tpm_limit },
    };
  }

  private touch(tokenId: number): void {
    const now = Date.now();
    if (now - (this.lastTouched.get(tokenId) ?? 0) < TOKEN_TOUCH_INTERVAL_MS) return;
    this.lastTouched.set(tokenId, now);
    this.tokens.touch(tokenId, new Date(now)).catch((error: Error) => this.logger.warn(`Could not record API token use: ${error.message}`));
  }

  private async openSession(user: User): Promise<Session> {
    const claims = { sub: String(user.id), pwd: passwordChangedAt(user) };
    const accessToken = await this.jwt.signAsync(claims, { jwtid: randomUUID() });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.config.tokenTtlSeconds,
      user: { id: user.id, username: user.username, role: user.role },
    };
  }

  /** First start: an admin from ADMIN_USERNAME / ADMIN_PASSWORD, or with a generated password for the start-up report. */
  private async createFirstAdmin(): Promise<void> {
    if ((await this.users.count()) > 0) return;
    const password = this.config.adminPassword ?? randomBytes(18).toString('base64url');
    try {
      await this.users.create({
        username: this.config.adminUsername,
        password_hash: await PasswordHasher.hash(password),
        role: 'admin',
        disabled: false,
      });
    } catch (error) {
      // Another instance on the same database created it first.
      if ((await this.users.count()) > 0) return;
      throw error;
    }
    this.createdAdmin = {
      username: this.config.adminUsername,
      generatedPassword: this.config.adminPassword ? undefined : password,
    };
  }
}

/** When the user's password last changed, in ms (0: never), as login tokens carry it. */
function passwordChangedAt(user: User): number {
  return user.password_changed_at?.getTime() ?? 0;
}
