import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import type { Socket } from 'socket.io';
import { definedOnly } from '../../common/objects';
import { Principal } from '../../common/request-context';
import { TerminalConfig } from '../../config/configuration';
import { SshPool } from '../../ssh/ssh-pool.service';
import { AuditService } from '../audit/audit.service';
import { ShellStartup } from './shell-startup';

/** Output is sent once it reaches this size rather than at the end of the tick: a resumed stream can deliver
 * megabytes in one tick, and xterm.js renders large writes in one blocking pass. */
export const MAX_OUTPUT_EVENT_CHARS = 64 * 1024;

export interface TerminalSessionOptions {
  socket: Socket;
  serverId: number;
  /** The shell, opened on the server's pooled connection; given back to the pool when the session closes. */
  channel: ClientChannel;
  autoCommand?: string;
  config: TerminalConfig;
  pool: SshPool;
  audit: AuditService;
  /** Told once, when the session has closed (whoever closed it); `notified` when the client got `ssh_disconnected`. */
  onClosed: (session: TerminalSession, notified: boolean) => void;
}

/**
 * One open terminal: a shell channel bound to a socket. Output is pushed as it arrives, decoded as UTF-8 without
 * splitting characters, and flow-controlled against the socket so a flood cannot grow memory without bound; the
 * ShellStartup types the locale line and auto_command first. Opening and closing are audited, with the time open and
 * the bytes each way; a terminal left idle past TERMINAL_IDLE_TIMEOUT_MS closes itself.
 */
export class TerminalSession {
  readonly socket: Socket;
  readonly serverId: number;
  private readonly channel: ClientChannel;
  private readonly decoder = new StringDecoder('utf8');
  /** Types the locale line and auto_command; the user's keystrokes go through it. */
  private readonly startup: ShellStartup;
  /** Output decoded but not yet emitted: chunks of one I/O turn go out as one event. */
  private pending = '';
  private flushScheduled = false;
  /** Bytes emitted since the socket last drained; past the high-water mark the SSH stream is paused. */
  private inFlightBytes = 0;
  private streamPaused = false;
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly openedAt = Date.now();
  /** Keystrokes sent to the shell and output received from it, in bytes, for the audit log. */
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(private readonly options: TerminalSessionOptions) {
    const { socket, serverId, channel, autoCommand } = options;
    this.socket = socket;
    this.serverId = serverId;
    this.channel = channel;
    this.startup = new ShellStartup({ type: (text) => channel.write(text), show: (text) => this.show(text) }, autoCommand);
    this.touch();
    const onData = (chunk: Buffer) => this.output(chunk);
    channel.on('data', onData);
    channel.stderr.on('data', onData);
    channel.on('close', () => {
      // A shell that ended while its startup held output back (e.g. a login that failed) shows why.
      this.show(this.startup.end());
      this.flush();
      this.close(true);
    });
    // Engine.IO drains when what was emitted has been written out to the client.
    socket.conn.on('drain', this.onDrain);
    void options.audit.record({
      action: 'terminal.open',
      target: `server:${serverId}`,
      actor: this.actor(),
      detail: definedOnly({ auto_command: autoCommand }),
    });
  }

  /** Whether flow control holds the SSH stream paused until the client catches up. */
  get paused(): boolean {
    return this.streamPaused;
  }

  /** The user's keystrokes; false when the terminal is still starting and has too much input waiting. */
  input(keys: string): boolean {
    if (!this.startup.input(keys)) return false;
    this.touch();
    this.bytesIn += Buffer.byteLength(keys);
    return true;
  }

  resize(cols: number, rows: number): void {
    this.channel.setWindow(rows, cols, 0, 0);
  }

  /** Tells the client why with `ssh_error`, then closes. */
  end(reason: string): void {
    this.socket.emit('ssh_error', { error: reason });
    this.close(true);
  }

  /** Closes the shell (its channel only; the pooled connection stays), telling the client if `notify`. */
  close(notify: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.startup.end();
    this.socket.conn.off('drain', this.onDrain);
    // Released, not just closed: a paused stream (flow control engaged) would never give its slot back.
    this.options.pool.release(this.channel);
    const notified = notify && this.socket.connected;
    if (notified) this.socket.emit('ssh_disconnected', { status: 'disconnected' });
    void this.options.audit.record({
      action: 'terminal.close',
      target: `server:${this.serverId}`,
      actor: this.actor(),
      detail: { seconds: Math.round((Date.now() - this.openedAt) / 1000), bytes_in: this.bytesIn, bytes_out: this.bytesOut },
    });
    this.options.onClosed(this, notified);
  }

  private readonly onDrain = (): void => {
    this.inFlightBytes = 0;
    if (this.streamPaused && !this.closed) {
      this.streamPaused = false;
      this.channel.resume();
    }
  };

  private output(chunk: Buffer): void {
    this.touch();
    this.bytesOut += chunk.length;
    this.show(this.startup.output(this.decoder.write(chunk)));
  }

  /** Queues output for the client: chunks of one I/O turn go out as one event. */
  private show(text: string): void {
    if (!text) return;
    this.pending += text;
    if (this.pending.length >= MAX_OUTPUT_EVENT_CHARS) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (!this.pending || this.closed) return;
    const data = this.pending;
    this.pending = '';
    // Counted before emitting: if the packet goes straight to the transport, engine.io emits 'drain'
    // synchronously inside emit() and resets the count, so a pause only ever happens while packets
    // are queued, and their flush (with its 'drain') is what resumes the stream.
    this.inFlightBytes += Buffer.byteLength(data);
    this.socket.emit('ssh_output', { data });
    if (this.inFlightBytes > this.options.config.highWaterBytes && !this.streamPaused) {
      this.streamPaused = true;
      this.channel.pause();
    }
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    const { idleTimeoutMs } = this.options.config;
    this.idleTimer = setTimeout(() => {
      const minutes = Math.round(idleTimeoutMs / 60_000);
      this.end(`Terminal closed after ${minutes >= 1 ? `${minutes} min` : `${idleTimeoutMs} ms`} without activity`);
    }, idleTimeoutMs);
    this.idleTimer.unref();
  }

  private actor(): { username: string | null; ip: string | null } {
    const data = this.socket.data as { principal?: Principal; ip?: string };
    return { username: data.principal?.username ?? null, ip: data.ip ?? null };
  }
}
