import { Inject, Injectable, NotFoundException, OnApplicationShutdown, OnModuleInit, UseFilters, UseGuards } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayDisconnect, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { terminalConfig, TerminalConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';
import { SocketAccessMonitor } from '../../realtime/socket-access.monitor';
import { SocketPayloadPipe, SocketRefusalFilter } from '../../realtime/socket-validation';
import { SshPool } from '../../ssh/ssh-pool.service';
import { SshError } from '../../ssh/ssh-target';
import { AuditService } from '../audit/audit.service';
import { roleAllows } from '../auth/roles';
import { ServersService } from '../servers/servers.service';
import { SshConnectDto, SshInputDto, SshResizeDto } from './dto/terminal.dto';
import { TERMINAL_ENV } from './shell-startup';
import { TerminalOperatorGuard } from './terminal-operator.guard';
import { TerminalSession } from './terminal-session';

const TERM = 'xterm-256color';
/** The pty's size when `ssh_connect` gives none: the classic terminal. */
const DEFAULT_WINDOW = { cols: 80, rows: 24 };

/**
 * The browser SSH terminal (xterm.js over Socket.IO, default namespace): one TerminalSession per socket, a shell
 * opened on the server's pooled SSH connection at the client's size, within per-server and total limits.
 * Refusals are answered with `ssh_error {error}`.
 */
@Injectable()
@WebSocketGateway()
@UseFilters(new SocketRefusalFilter('ssh_error'))
export class TerminalGateway implements OnModuleInit, OnGatewayDisconnect, OnApplicationShutdown {
  private readonly sessions = new Map<string, TerminalSession>();
  /** Sockets whose `ssh_connect` is still opening a shell; counted against the limits. */
  private readonly opening = new Map<string, number>();
  /** Sockets whose last terminal has been reported ended, so a late `ssh_disconnect` does not report it twice. */
  private readonly reportedEnded = new Set<string>();

  constructor(
    private readonly servers: ServersService,
    private readonly pool: SshPool,
    private readonly audit: AuditService,
    private readonly access: SocketAccessMonitor,
    private readonly metrics: BackendMetrics,
    @Inject(terminalConfig.KEY) private readonly config: TerminalConfig,
  ) {}

  /**
   * A shell stays open as long as its socket does, so checking only at ssh_connect would leave a removed operator's
   * root shell running: each re-check ends the terminal of a caller no longer signed in or demoted below operator.
   */
  onModuleInit(): void {
    this.metrics.countOpenTerminalsWith(() => this.sessions.size);
    this.access.onRecheck((socket, principal) => {
      if (principal && roleAllows(principal.role, 'operator')) return;
      this.sessions.get(socket.id)?.end('Terminal closed: your sign-in was revoked or no longer allows terminals');
    });
  }

  @SubscribeMessage('ssh_connect')
  @UseGuards(TerminalOperatorGuard)
  async connect(@ConnectedSocket() socket: Socket, @MessageBody(SocketPayloadPipe) request: SshConnectDto): Promise<void> {
    const serverId = request.server_id;
    if (this.opening.has(socket.id)) throw new WsException('A terminal is already being opened on this connection');
    this.close(socket.id, false);
    const limit = this.limitReached(serverId);
    if (limit) throw new WsException(limit);

    this.opening.set(socket.id, serverId);
    try {
      const target = await this.servers.sshTarget(serverId);
      // The shell starts at the client's size: programs started by the profile draw for it at once.
      const size = { cols: request.cols ?? DEFAULT_WINDOW.cols, rows: request.rows ?? DEFAULT_WINDOW.rows };
      const { channel, reusedConnection } = await this.pool.openShell(target, { term: TERM, ...size }, TERMINAL_ENV);
      // The socket left while the shell was opening (its slot was given back then): nobody wants this channel.
      if (!socket.connected) {
        this.pool.release(channel);
        return;
      }
      const session = new TerminalSession({
        socket,
        serverId,
        channel,
        autoCommand: request.auto_command || undefined,
        config: this.config,
        pool: this.pool,
        audit: this.audit,
        onClosed: (closed, notified) => this.forget(closed, notified),
      });
      this.sessions.set(socket.id, session);
      this.reportedEnded.delete(socket.id);
      socket.emit('ssh_connected', request.service_id ? { status: 'connected', reused: reusedConnection } : { status: 'connected' });
    } catch (error) {
      throw new WsException(
        error instanceof NotFoundException || error instanceof SshError
          ? error.message
          : `Cannot open a terminal: ${String((error as Error)?.message ?? error)}`,
      );
    } finally {
      this.opening.delete(socket.id);
    }
  }

  @SubscribeMessage('ssh_input')
  input(@ConnectedSocket() socket: Socket, @MessageBody(SocketPayloadPipe) { input }: SshInputDto): void {
    const session = this.sessions.get(socket.id);
    if (!session)
      throw new WsException(
        'No terminal is open on this connection: send ssh_connect first (a terminal lives on the backend instance that opened it; a reconnected socket opens a new one)',
      );
    if (!session.input(input)) throw new WsException('The terminal is still starting and has too much input waiting');
  }

  @SubscribeMessage('ssh_resize')
  resize(@ConnectedSocket() socket: Socket, @MessageBody(SocketPayloadPipe) { cols, rows }: SshResizeDto): void {
    this.sessions.get(socket.id)?.resize(cols, rows);
  }

  @SubscribeMessage('ssh_disconnect')
  disconnectTerminal(@ConnectedSocket() socket: Socket): void {
    if (this.close(socket.id, true) || this.reportedEnded.has(socket.id)) return;
    // Clients that never had a terminal still get their answer, as from the old backend.
    socket.emit('ssh_disconnected', { status: 'disconnected' });
  }

  handleDisconnect(socket: Socket): void {
    // A shell still opening gives its limit slot back now; its channel is released when it arrives.
    this.opening.delete(socket.id);
    this.reportedEnded.delete(socket.id);
    this.close(socket.id, false);
  }

  onApplicationShutdown(): void {
    for (const session of [...this.sessions.values()]) session.close(true);
  }

  /** Open terminals, and those whose SSH stream flow control holds paused (for tests and diagnostics). */
  stats(): { open: number; paused: number } {
    const sessions = [...this.sessions.values()];
    return { open: sessions.length, paused: sessions.filter((session) => session.paused).length };
  }

  /** Closes the socket's terminal. Returns whether one was open. */
  private close(socketId: string, notify: boolean): boolean {
    const session = this.sessions.get(socketId);
    session?.close(notify);
    return session !== undefined;
  }

  private forget(session: TerminalSession, notified: boolean): void {
    const socketId = session.socket.id;
    if (this.sessions.get(socketId) === session) this.sessions.delete(socketId);
    if (notified) this.reportedEnded.add(socketId);
  }

  private limitReached(serverId: number): string | undefined {
    const open = [...this.sessions.values()].map((session) => session.serverId).concat([...this.opening.values()]);
    if (open.length >= this.config.maxTotal) return `Too many open terminals (limit ${this.config.maxTotal})`;
    if (open.filter((id) => id === serverId).length >= this.config.maxPerServer) {
      return `Too many open terminals on server ${serverId} (limit ${this.config.maxPerServer})`;
    }
    return undefined;
  }
}
