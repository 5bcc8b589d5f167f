import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type Redis from 'ioredis';
import proxyaddr from 'proxy-addr';
import { Server, ServerOptions, Socket } from 'socket.io';
import { RedisConnections } from '../cluster/redis-connections';
import { Principal } from '../common/request-context';
import { HttpConfig } from '../config/configuration';
import { OriginPolicy, usesAmbientCredentials } from '../common/origin-policy';
import { AuthService, presentedToken, SESSION_COOKIE } from '../modules/auth/auth.service';

/**
 * Socket.IO on the HTTP port, open to the same browser origins as the REST API (the admin UI). Every
 * connection authenticates in its handshake (`auth.token`, `Authorization` header or the login cookie);
 * the caller is kept in `socket.data.principal` and the token in `socket.data.token`, so that long-lived sockets
 * can be checked again before privileged actions (see `socketPrincipal`); `socket.data.ip` is the client's address
 * (behind TRUST_PROXY). With REDIS_URL, broadcasts and room events (service_status, task_output...) reach the sockets
 * of every instance through Socket.IO's Redis adapter.
 */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly http: HttpConfig,
    private readonly auth: AuthService,
    private readonly origins: OriginPolicy,
    private readonly redis: RedisConnections,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): unknown {
    const anyOrigin = this.http.corsOrigins.includes('*');
    const server = super.createIOServer(port, {
      ...options,
      cors: { origin: anyOrigin ? true : this.http.corsOrigins, credentials: !anyOrigin },
      transports: ['websocket', 'polling'],
    }) as Server;
    if (this.redis.enabled) server.adapter(createAdapter(droppingPublishes(this.redis.commands()), this.redis.subscriber('socket.io')));
    server.use((socket, next) => {
      // A WebSocket handshake is not subject to CORS: a foreign page riding on the cookie (or on no
      // authentication at all) is refused here, on either transport.
      const refusal = this.crossSiteRefusal(socket);
      if (refusal) return next(new Error(refusal));
      this.authenticate(socket).then(
        (authenticated) => next(authenticated ? undefined : new Error('Unauthorized: sign in and pass the token as auth.token')),
        (error: Error) => next(new Error(`Unauthorized: ${error.message}`)),
      );
    });
    return server;
  }

  private crossSiteRefusal(socket: Socket): string | undefined {
    const explicitToken = this.auth.enabled && handshakeToken(socket) !== undefined;
    if (explicitToken || !usesAmbientCredentials(socket.handshake.headers, SESSION_COOKIE, this.auth.enabled)) return undefined;
    return this.origins.refusal(socket.request, this.auth.enabled);
  }

  private async authenticate(socket: Socket): Promise<boolean> {
    const token = handshakeToken(socket) ?? presentedToken(socket.handshake.headers);
    const principal = await this.auth.authenticate(token);
    const data = dataOf(socket);
    data.principal = principal ?? undefined;
    data.token = token;
    data.ip = proxyaddr(socket.request, this.http.trustProxy);
    return principal !== null;
  }
}

/**
 * The adapter publishes without waiting for the result: while Redis is away (commands fail at once, see
 * RedisConnections) each failed publish would be an unhandled rejection, which ends the process. They are dropped
 * instead; local sockets still get the event.
 */
function droppingPublishes(connection: Redis): Redis {
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property !== 'publish') return Reflect.get(target, property, receiver) as unknown;
      return (channel: string, message: string | Buffer) => target.publish(channel, message).catch(() => 0);
    },
  });
}

/** What a connection keeps in `socket.data` (see ConfiguredIoAdapter). */
export interface SocketData {
  principal?: Principal;
  token?: string;
  ip?: string;
}

/** The socket's `socket.data`, which Socket.IO leaves untyped. */
function dataOf(socket: Socket): SocketData {
  return socket.data as SocketData;
}

/** A token the client handed over explicitly (`auth.token`), which a foreign page cannot borrow from the browser. */
function handshakeToken(socket: Socket): string | undefined {
  const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' ? token.replace(/^Bearer\s+/i, '') : undefined;
}

/**
 * The socket's caller as of now: its handshake token checked again, so a token revoked (or a user disabled or
 * demoted) since the socket connected no longer counts. Null when it is no longer valid.
 */
export async function socketPrincipal(auth: AuthService, socket: Socket): Promise<Principal | null> {
  const data = dataOf(socket);
  const principal = await auth.authenticate(data.token);
  data.principal = principal ?? undefined;
  return principal;
}
