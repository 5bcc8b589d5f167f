import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import proxyaddr from 'proxy-addr';
import { Server, ServerOptions, Socket } from 'socket.io';
import { Principal } from '../common/request-context';
import { HttpConfig } from '../config/configuration';
import { AuthService, presentedToken } from '../modules/auth/auth.service';

/**
 * Socket.IO on the HTTP port, open to the same browser origins as the REST API (the admin UI). Every
 * connection authenticates in its handshake (`auth.token`, `Authorization` header or the login cookie);
 * the caller is kept in `socket.data.principal` and the token in `socket.data.token`, so that long-lived sockets
 * can be checked again before privileged actions (see `socketPrincipal`); `socket.data.ip` is the client's address
 * (behind TRUST_PROXY).
 */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly http: HttpConfig,
    private readonly auth: AuthService,
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
    server.use((socket, next) => {
      this.authenticate(socket).then(
        (authenticated) => next(authenticated ? undefined : new Error('Unauthorized: sign in and pass the token as auth.token')),
        (error: Error) => next(new Error(`Unauthorized: ${error.message}`)),
      );
    });
    return server;
  }

  private async authenticate(socket: Socket): Promise<boolean> {
    const { auth, headers } = socket.handshake;
    const fromAuth = typeof auth?.token === 'string' ? auth.token.replace(/^Bearer\s+/i, '') : undefined;
    const token = fromAuth ?? presentedToken(headers);
    const principal = await this.auth.authenticate(token);
    socket.data.principal = principal ?? undefined;
    socket.data.token = token;
    socket.data.ip = proxyaddr(socket.request, this.http.trustProxy);
    return principal !== null;
  }
}

/**
 * The socket's caller as of now: its handshake token checked again, so a token revoked (or a user disabled or
 * demoted) since the socket connected no longer counts. Null when it is no longer valid.
 */
export async function socketPrincipal(auth: AuthService, socket: Socket): Promise<Principal | null> {
  const principal = await auth.authenticate(socket.data.token as string | undefined);
  socket.data.principal = principal ?? undefined;
  return principal;
}
