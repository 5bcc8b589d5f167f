import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { Principal } from '../common/request-context';
import { terminalConfig, TerminalConfig } from '../config/configuration';
import { AuthService } from '../modules/auth/auth.service';
import { socketPrincipal } from './configured-io.adapter';

/** Told of each socket re-checked: its caller as of now, or null when the socket is about to be disconnected. */
export type RecheckListener = (socket: Socket, principal: Principal | null) => void;

/**
 * Checks every open socket's caller again every TERMINAL_REAUTH_INTERVAL_MS: a socket outlives the sign-in it was
 * opened with, so a revoked or expired token, or a disabled or deleted user, would otherwise keep receiving task
 * output and service statuses (and keep a shell). Such a socket gets `session_ended {reason}` and is disconnected.
 * Features listen to end what they hold first, or what needs more than being signed in (a terminal: operator).
 */
@Injectable()
@WebSocketGateway()
export class SocketAccessMonitor implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SocketAccessMonitor.name);
  private readonly listeners: RecheckListener[] = [];
  private timer?: NodeJS.Timeout;
  private running = false;

  @WebSocketServer()
  private readonly io?: Server;

  constructor(
    private readonly auth: AuthService,
    @Inject(terminalConfig.KEY) private readonly config: TerminalConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.recheck(), this.config.reauthIntervalMs).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  onRecheck(listener: RecheckListener): void {
    this.listeners.push(listener);
  }

  /** One pass over the connected sockets; the timer runs it every interval. */
  async recheck(): Promise<void> {
    if (this.running || !this.io) return;
    this.running = true;
    try {
      for (const socket of [...this.io.sockets.sockets.values()]) {
        let principal: Principal | null;
        try {
          principal = await socketPrincipal(this.auth, socket);
        } catch (error) {
          // A database hiccup is not a revocation: check again next time.
          this.logger.warn(`Could not check socket ${socket.id} again: ${(error as Error).message}`);
          continue;
        }
        if (!socket.connected) continue;
        for (const listener of this.listeners) listener(socket, principal);
        if (principal) continue;
        socket.emit('session_ended', { reason: 'Your sign-in was revoked or has expired, or your account was disabled or deleted: sign in again' });
        socket.disconnect(true);
      }
    } finally {
      this.running = false;
    }
  }
}
