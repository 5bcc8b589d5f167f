import { Inject, Injectable, NotFoundException, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayDisconnect,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import type { Socket } from 'socket.io';
import { Principal } from '../common/request-context';
import { terminalConfig, TerminalConfig } from '../config/configuration';
import { AuditService } from '../modules/audit/audit.service';
import { AuthService } from '../modules/auth/auth.service';
import { roleAllows, roleWithArticle } from '../modules/auth/roles';
import { socketPrincipal } from '../realtime/configured-io.adapter';
import { SocketAccessMonitor } from '../realtime/socket-access.monitor';
import { ServersService } from '../modules/servers/servers.service';
import { definedOnly } from '../common/objects';
import { ShellStartup, TERMINAL_ENV } from './shell-startup';
import { SshPool } from './ssh-pool.service';
import { SshError } from './ssh-target';
import { isRefusal, parseConnect, parseResize } from './terminal-requests';

const MAX_INPUT_CHARS = 64 * 1024;
/** Output is sent once it reaches this size rather than at the end of the tick: a resumed stream can deliver
 * megabytes in one tick, and xterm.js renders large writes in one blocking pass. */
export const MAX_OUTPUT_EVENT_CHARS = 64 * 1024;
const TERM = 'xterm-256color';

interface TerminalSession {
  socket: Socket;
  serverId: number;
  channel: ClientChannel;
  decoder: StringDecoder;
  /** Output decoded but not yet emitted: chunks of one I/O turn go out as one event. */
  pending: string;
  flushScheduled: boolean;
  /** Bytes emitted since the socket last drained; past the high-water mark the SSH stream is paused. */
  inFlightBytes: number;
  paused: boolean;
  /** Types the locale line and auto_command; the user's keystrokes go through it. */
  startup: ShellStartup;
  idleTimer?: NodeJS.Timeout;
  onDrain: () => void;
  closed: boolean;
  openedAt: number;
  /** Keystrokes sent to the shell and output received from it, in bytes, for the audit log. */
  bytesIn: number;
  bytesOut: number;
}

/**
 * The browser SSH terminal (xterm.js over Socket.IO, default namespace): one shell per socket, opened as a
 * channel on the server's pooled SSH connection at the client's size, with a UTF-8 locale (ShellStartup). Output is pushed as it arrives, decoded as UTF-8 without
 * splitting characters, and flow-controlled against the socket so a flood cannot grow memory without bound.
 */
@Injectable()
@WebSocketGateway()
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
    private readonly auth: AuthService,
    private readonly access: SocketAccessMonitor,
    @Inject(terminalConfig.KEY) private readonly config: TerminalConfig,
  ) {}

  /**
   * A shell stays open as long as its socket does, so checking only at ssh_connect would leave a removed operator's
   * root shell running: each re-check ends the terminal of a caller no longer signed in or demoted below operator.
   */
  onModuleInit(): void {
    this.access.onRecheck((socket, principal) => {
      const session = this.sessions.get(socket.id);
      if (!session || session.closed || (principal && roleAllows(principal.role, 'operator'))) return;
      this.fail(socket, 'Terminal closed: your sign-in was revoked or no longer allows terminals');
      this.close(socket.id, true);
    });
  }

  @SubscribeMessage('ssh_connect')
  async connect(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): Promise<void> {
    const principal = await socketPrincipal(this.auth, socket);
    if (!principal || !roleAllows(principal.role, 'operator')) {
      return this.fail(socket, `Forbidden: terminals need the operator role; ${principal?.username ?? 'you'} ${principal ? `is ${roleWithArticle(principal.role)}` : 'are not signed in'}`);
    }
    const request = parseConnect(payload);
    if (isRefusal(request)) return this.fail(socket, request.error);
    const { serverId, autoCommand, serviceId } = request;
    if (this.opening.has(socket.id)) return this.fail(socket, 'A terminal is already being opened on this connection');
    this.close(socket.id, false);
    const limit = this.limitReached(serverId);
    if (limit) return this.fail(socket, limit);

    this.opening.set(socket.id, serverId);
    try {
      const target = await this.servers.sshTarget(serverId);
      // The shell starts at the client's size: programs started by the profile draw for it at once.
      const { channel, reusedConnection } = await this.pool.openShell(target, { term: TERM, cols: request.cols, rows: request.rows }, TERMINAL_ENV);
      // The socket left while the shell was opening (its slot was given back then): nobody wants this channel.
      if (!socket.connected) {
        this.pool.release(channel);
        return;
      }
      this.start(socket, serverId, channel, autoCommand);
      void this.audit.record({ action: 'terminal.open', target: `server:${serverId}`, actor: this.actor(socket), detail: definedOnly({ auto_command: autoCommand }) });
      socket.emit('ssh_connected', serviceId ? { status: 'connected', reused: reusedConnection } : { status: 'connected' });
    } catch (error) {
      const reason =
        error instanceof NotFoundException || error instanceof SshError ? error.message : `Cannot open a terminal: ${String((error as Error)?.message ?? error)}`;
      this.fail(socket, reason);
    } finally {
      this.opening.delete(socket.id);
    }
  }

  @SubscribeMessage('ssh_input')
  input(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): void {
    const session = this.sessions.get(socket.id);
    const input = (payload as { input?: unknown } | null)?.input;
    if (typeof input !== 'string') return this.fail(socket, 'input must be a string');
    if (input.length > MAX_INPUT_CHARS) return this.fail(socket, `input is longer than ${MAX_INPUT_CHARS} characters`);
    if (!session) return this.fail(socket, 'No terminal is open: send ssh_connect first');
    if (!session.startup.input(input)) return this.fail(socket, 'The terminal is still starting and has too much input waiting');
    this.touch(session);
    session.bytesIn += Buffer.byteLength(input);
  }

  @SubscribeMessage('ssh_resize')
  resize(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): void {
    const size = parseResize(payload);
    if (isRefusal(size)) return this.fail(socket, size.error);
    this.sessions.get(socket.id)?.channel.setWindow(size.rows, size.cols, 0, 0);
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
    for (const id of [...this.sessions.keys()]) this.close(id, true);
  }

  /** Open terminals, and those whose SSH stream flow control holds paused (for tests and diagnostics). */
  stats(): { open: number; paused: number } {
    const sessions = [...this.sessions.values()];
    return { open: sessions.length, paused: sessions.filter((session) => session.paused).length };
  }

  private start(socket: Socket, serverId: number, channel: ClientChannel, autoCommand?: string): void {
    const session: TerminalSession = {
      socket,
      serverId,
      channel,
      decoder: new StringDecoder('utf8'),
      pending: '',
      flushScheduled: false,
      inFlightBytes: 0,
      paused: false,
      startup: new ShellStartup({ type: (text) => channel.write(text), show: (text) => this.show(session, text) }, autoCommand),
      onDrain: () => {
        session.inFlightBytes = 0;
        if (session.paused && !session.closed) {
          session.paused = false;
          channel.resume();
        }
      },
      closed: false,
      openedAt: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
    };
    this.sessions.set(socket.id, session);
    this.reportedEnded.delete(socket.id);
    this.touch(session);
    const onData = (chunk: Buffer) => this.output(session, chunk);
    channel.on('data', onData);
    channel.stderr.on('data', onData);
    channel.on('close', () => {
      // A shell that ended while its startup held output back (e.g. a login that failed) shows why.
      this.show(session, session.startup.end());
      this.flush(session);
      if (this.sessions.get(socket.id) === session) this.close(socket.id, true);
    });
    // Engine.IO drains when what was emitted has been written out to the client.
    socket.conn.on('drain', session.onDrain);
  }

  private output(session: TerminalSession, chunk: Buffer): void {
    this.touch(session);
    session.bytesOut += chunk.length;
    this.show(session, session.startup.output(session.decoder.write(chunk)));
  }

  /** Queues output for the client: chunks of one I/O turn go out as one event. */
  private show(session: TerminalSession, text: string): void {
    if (!text) return;
    session.pending += text;
    if (session.pending.length >= MAX_OUTPUT_EVENT_CHARS) {
      this.flush(session);
    } else if (!session.flushScheduled) {
      session.flushScheduled = true;
      setImmediate(() => {
        session.flushScheduled = false;
        this.flush(session);
      });
    }
  }

  private flush(session: TerminalSession): void {
    if (!session.pending || session.closed) return;
    const data = session.pending;
    session.pending = '';
    // Counted before emitting: if the packet goes straight to the transport, engine.io emits 'drain'
    // synchronously inside emit() and resets the count, so a pause only ever happens while packets
    // are queued, and their flush (with its 'drain') is what resumes the stream.
    session.inFlightBytes += Buffer.byteLength(data);
    session.socket.emit('ssh_output', { data });
    if (session.inFlightBytes > this.config.highWaterBytes && !session.paused) {
      session.paused = true;
      session.channel.pause();
    }
  }

  private touch(session: TerminalSession): void {
    clearTimeout(session.idleTimer);
    session.idleTimer = setTimeout(() => {
      const minutes = Math.round(this.config.idleTimeoutMs / 60_000);
      this.fail(session.socket, `Terminal closed after ${minutes >= 1 ? `${minutes} min` : `${this.config.idleTimeoutMs} ms`} without activity`);
      this.close(session.socket.id, true);
    }, this.config.idleTimeoutMs);
    session.idleTimer.unref();
  }

  /** Closes the socket's terminal (its channel only; the pooled connection stays). Returns whether one was open. */
  private close(socketId: string, notify: boolean): boolean {
    const session = this.sessions.get(socketId);
    if (!session) return false;
    this.sessions.delete(socketId);
    session.closed = true;
    clearTimeout(session.idleTimer);
    session.startup.end();
    session.socket.conn.off('drain', session.onDrain);
    // Released, not just closed: a paused stream (flow control engaged) would never give its slot back.
    this.pool.release(session.channel);
    if (notify && session.socket.connected) {
      session.socket.emit('ssh_disconnected', { status: 'disconnected' });
      this.reportedEnded.add(socketId);
    }
    void this.audit.record({
      action: 'terminal.close',
      target: `server:${session.serverId}`,
      actor: this.actor(session.socket),
      detail: { seconds: Math.round((Date.now() - session.openedAt) / 1000), bytes_in: session.bytesIn, bytes_out: session.bytesOut },
    });
    return true;
  }

  private limitReached(serverId: number): string | undefined {
    const open = [...this.sessions.values()].map((session) => session.serverId).concat([...this.opening.values()]);
    if (open.length >= this.config.maxTotal) return `Too many open terminals (limit ${this.config.maxTotal})`;
    if (open.filter((id) => id === serverId).length >= this.config.maxPerServer) {
      return `Too many open terminals on server ${serverId} (limit ${this.config.maxPerServer})`;
    }
    return undefined;
  }

  private actor(socket: Socket): { username: string | null; ip: string | null } {
    return { username: (socket.data.principal as Principal | undefined)?.username ?? null, ip: (socket.data.ip as string | undefined) ?? null };
  }

  private fail(socket: Socket, error: string): void {
    socket.emit('ssh_error', { error });
  }
}
