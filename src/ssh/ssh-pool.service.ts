import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Client, ClientChannel, ConnectConfig, PseudoTtyOptions } from 'ssh2';
import { sshConfig, SshConfig } from '../config/configuration';
import { HostKeyStore } from './host-key.store';
import { OpenDeadlineExpired, openWithin } from './open-deadline';
import { SshError, SshTarget } from './ssh-target';

/** OpenSSH's fingerprint format: `SHA256:` and unpadded base64 of the key's SHA-256. */
export function fingerprintOf(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

class PooledConnection {
  openChannels = 0;
  closed = false;
  /** Takes no new channels (the server left a channel open unanswered); closed once its last channel is back. */
  retired = false;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    readonly client: Client,
    /** Lowered when the server refuses a channel below our own limit (its MaxSessions is smaller). */
    public channelLimit: number,
  ) {}

  hasRoom(): boolean {
    return !this.closed && !this.retired && this.openChannels < this.channelLimit;
  }

  take(): void {
    this.openChannels++;
    clearTimeout(this.idleTimer);
  }

  give(idleTimeoutMs: number): void {
    this.openChannels--;
    if (this.openChannels > 0 || this.closed) return;
    if (this.retired) return this.close();
    this.idleTimer = setTimeout(() => this.close(), idleTimeoutMs);
    this.idleTimer.unref();
  }

  retire(): void {
    this.retired = true;
    if (this.openChannels === 0) this.close();
  }

  close(): void {
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }
}

/** What the pool holds for one server, for operators and tests: never a credential. */
export interface PoolState {
  /** Open connections, retired ones included. */
  connections: number;
  /** Channels open or being opened, over all connections. */
  open_channels: number;
  /** Connections that take no new channels and close once their last channel is back. */
  retired_connections: number;
}

/** The connections of one server under one set of credentials. */
class ServerConnections {
  readonly connections: PooledConnection[] = [];
  connecting?: Promise<PooledConnection>;

  constructor(readonly credentialVersion: string) {}
}

/** How the remote command ended; filled in when the channel reports it. */
export interface ExitRecord {
  code?: number | null;
  signal?: string;
}

export interface OpenedChannel {
  channel: ClientChannel;
  /** True when an SSH connection to the server was already open and this channel rode on it. */
  reusedConnection: boolean;
  exit: ExitRecord;
}

/**
 * One warm SSH connection per server (more when its channel limit is reached), shared by every
 * feature: a command or a terminal costs a channel, not a handshake. Connections are keyed by server
 * and a hash of its credentials, so editing host, port, user or secret retires the old ones.
 */
@Injectable()
export class SshPool implements OnApplicationShutdown {
  private readonly logger = new Logger(SshPool.name);
  private readonly servers = new Map<number, ServerConnections>();
  private handshakes = 0;

  constructor(
    @Inject(sshConfig.KEY) private readonly config: SshConfig,
    private readonly hostKeys: HostKeyStore,
  ) {}

  openExec(target: SshTarget, command: string, pty: PseudoTtyOptions | false): Promise<OpenedChannel> {
    return this.openChannel(target, (client) =>
      promisifyChannel((callback) => (pty ? client.exec(command, { pty }, callback) : client.exec(command, callback))),
    );
  }

  /** `env` goes out as the channel's env requests, which the server may ignore (OpenSSH's AcceptEnv) without a word. */
  openShell(target: SshTarget, window: PseudoTtyOptions, env: Record<string, string>): Promise<OpenedChannel> {
    return this.openChannel(target, (client) => promisifyChannel((callback) => client.shell(window, { env }, callback)));
  }

  /** Closes the connections of a server, e.g. after its credentials or host key were changed. */
  disconnect(serverId: number): void {
    const entry = this.servers.get(serverId);
    if (!entry) return;
    this.servers.delete(serverId);
    for (const connection of entry.connections) connection.close();
  }

  /**
   * Ends a channel however far its streams were read, and so gives its slot back: ssh2 emits a channel's `close`
   * only after its `end`, which a paused or never-read stream never reaches. Whoever releases a channel is done
   * with its output: data still arriving is discarded.
   */
  release(channel: ClientChannel): void {
    for (const stream of [channel, channel.stderr]) {
      stream.removeAllListeners('data');
      stream.resume();
    }
    channel.close();
  }

  /** What the pool holds for a server. */
  state(serverId: number): PoolState {
    const live = (this.servers.get(serverId)?.connections ?? []).filter((connection) => !connection.closed);
    return {
      connections: live.length,
      open_channels: live.reduce((sum, connection) => sum + connection.openChannels, 0),
      retired_connections: live.filter((connection) => connection.retired).length,
    };
  }

  /** What the pool holds for every server it has connected to, by server id (for the Prometheus exporter). */
  states(): Map<number, PoolState> {
    return new Map([...this.servers.keys()].map((serverId) => [serverId, this.state(serverId)]));
  }

  /** Open connections and handshakes performed so far (for tests and diagnostics). */
  stats(serverId?: number): { connections: number; handshakes: number } {
    const entries = serverId === undefined ? [...this.servers.values()] : [this.servers.get(serverId)].filter((e) => e !== undefined);
    const connections = entries.reduce((sum, entry) => sum + entry.connections.filter((c) => !c.closed).length, 0);
    return { connections, handshakes: this.handshakes };
  }

  onApplicationShutdown(): void {
    for (const serverId of [...this.servers.keys()]) this.disconnect(serverId);
  }

  private async openChannel(
    target: SshTarget,
    open: (client: Client) => Promise<{ channel: ClientChannel; exit: ExitRecord }>,
  ): Promise<OpenedChannel> {
    // A connection can die between two uses, or the server can refuse a channel: retry on a fresh slot.
    for (let attempt = 0; ; attempt++) {
      const { connection, reused } = await this.acquire(target);
      let given = false;
      const giveBack = () => {
        if (given) return;
        given = true;
        connection.give(this.config.idleTimeoutMs);
      };
      try {
        const { channel, exit } = await openWithin(open(connection.client), this.config.channelOpenTimeoutMs, (late) => this.release(late));
        channel.once('close', giveBack);
        return { channel, reusedConnection: reused, exit };
      } catch (error) {
        giveBack();
        if (error instanceof OpenDeadlineExpired) {
          // The server authenticated us but sits on channel opens: new channels go to a fresh connection.
          connection.retire();
          throw new SshError(
            'timeout',
            `Timed out after ${this.config.channelOpenTimeoutMs} ms opening an SSH channel on ${target.host}:${target.port} (channel open): the server accepted the connection but did not answer`,
          );
        }
        // The channel opened but the server would not run it there: the connection is sound, and another try would
        // be refused the same way (ssh2 has closed the channel already).
        if (isRequestRefused(error)) {
          throw new SshError('channel', `${target.host}:${target.port} refused the request: ${(error as Error).message}`);
        }
        if (attempt >= 2) throw toChannelError(target, error);
        if (isChannelRefused(error) && connection.openChannels > 0) {
          connection.channelLimit = connection.openChannels;
        } else {
          connection.close();
        }
      }
    }
  }

  private async acquire(target: SshTarget): Promise<{ connection: PooledConnection; reused: boolean }> {
    const entry = this.entryFor(target);
    let reused = true;
    for (;;) {
      const available = entry.connections.find((connection) => connection.hasRoom());
      if (available) {
        available.take();
        return { connection: available, reused };
      }
      if (!entry.connecting) {
        const open = entry.connections.filter((connection) => !connection.closed);
        // A server that keeps channels open (or unanswered) must not make the pool open connections forever.
        if (open.length >= this.config.maxConnectionsPerServer) {
          throw new SshError(
            'channel',
            `All ${open.length} SSH connections to ${target.host}:${target.port} are busy (SSH_MAX_CONNECTIONS_PER_SERVER): try again when a command or terminal has ended`,
          );
        }
        reused = open.length > 0;
        entry.connecting = this.connect(target, entry).finally(() => (entry.connecting = undefined));
      }
      await entry.connecting;
    }
  }

  private entryFor(target: SshTarget): ServerConnections {
    const version = credentialVersion(target);
    const existing = this.servers.get(target.serverId);
    if (existing?.credentialVersion === version) return existing;
    if (existing) this.disconnect(target.serverId);
    const entry = new ServerConnections(version);
    this.servers.set(target.serverId, entry);
    return entry;
  }

  private connect(target: SshTarget, entry: ServerConnections): Promise<PooledConnection> {
    const client = new Client();
    const progress = followProgress(client);
    const config = this.connectConfig(target, progress);
    return new Promise<PooledConnection>((resolve, reject) => {
      const connection = new PooledConnection(client, this.config.maxChannelsPerConnection);
      let settled = false;
      // Always listening: ssh2 can emit more than one error (e.g. while tearing down a failed handshake).
      client.on('error', (error) => {
        if (settled) {
          this.logger.warn(`SSH connection to ${target.host}:${target.port} failed: ${error.message}`);
          return;
        }
        settled = true;
        client.end();
        reject(toConnectError(target, error, progress.phase, progress.presentedKey));
      });
      client.once('ready', () => {
        settled = true;
        this.handshakes++;
        this.adopt(target, entry, connection, progress.presentedKey);
        resolve(connection);
      });
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously on a private key it cannot parse.
        client.emit('error', error);
      }
    });
  }

  /** The connection settings for `target`; the host key presented is recorded in `progress` and checked against the pinned one. */
  private connectConfig(target: SshTarget, progress: ConnectProgress): ConnectConfig {
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: this.config.connectTimeoutMs,
      keepaliveInterval: this.config.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        progress.presentedKey = fingerprintOf(key);
        return !target.hostKeyFingerprint || target.hostKeyFingerprint === progress.presentedKey;
      },
    };
    if (target.privateKey) {
      config.privateKey = target.privateKey;
      if (target.passphrase) config.passphrase = target.passphrase;
    } else if (target.password) {
      config.password = target.password;
    }
    return config;
  }

  /** Makes a just-authenticated connection part of the pool: pins the host key first seen, and forgets the connection once it closes. */
  private adopt(target: SshTarget, entry: ServerConnections, connection: PooledConnection, presentedKey: string | undefined): void {
    // Commands are small writes that wait for an answer: Nagle's algorithm would hold each one back
    // for the peer's delayed ACK (~40 ms on Linux).
    connection.client.setNoDelay(true);
    if (!target.hostKeyFingerprint && presentedKey) {
      this.hostKeys.pinIfUnset(target.serverId, presentedKey).catch((error: unknown) => {
        this.logger.error(`Could not pin the host key of server ${target.serverId}: ${String(error)}`);
      });
    }
    connection.client.once('close', () => {
      connection.closed = true;
      const index = entry.connections.indexOf(connection);
      if (index >= 0) entry.connections.splice(index, 1);
    });
    entry.connections.push(connection);
  }
}

function promisifyChannel(
  start: (callback: (error: Error | undefined, channel: ClientChannel) => void) => void,
): Promise<{ channel: ClientChannel; exit: ExitRecord }> {
  return new Promise((resolve, reject) => {
    try {
      start((error, channel) => {
        if (error) return reject(error);
        // Listen at once: a short command's exit can arrive in the same read as the channel's confirmation,
        // before whoever awaits this promise has had a chance to subscribe.
        const exit: ExitRecord = {};
        channel.once('exit', (code: number | null, signal?: string) => Object.assign(exit, { code, signal }));
        resolve({ channel, exit });
      });
    } catch (error) {
      reject(error);
    }
  });
}

/** Of frozen targets, which cannot change (ServersService keeps one per cached server row): hashed once, not per channel. */
const versionsOfFrozenTargets = new WeakMap<SshTarget, string>();

function credentialVersion(target: SshTarget): string {
  const known = versionsOfFrozenTargets.get(target);
  if (known !== undefined) return known;
  const version = createHash('sha256')
    .update(JSON.stringify([target.host, target.port, target.username, target.password, target.privateKey, target.passphrase]))
    .digest('hex');
  if (Object.isFrozen(target)) versionsOfFrozenTargets.set(target, version);
  return version;
}

function isChannelRefused(error: unknown): boolean {
  return error instanceof Error && /open failed|Channel open failure/i.test(error.message);
}

/** ssh2's words for a session request (exec, shell, pty) the server answered with a failure. */
function isRequestRefused(error: unknown): boolean {
  return error instanceof Error && /^Unable to (exec|open shell|request a pseudo-terminal)$/.test(error.message);
}

function toChannelError(target: SshTarget, error: unknown): SshError {
  if (error instanceof SshError) return error;
  return new SshError('channel', `SSH channel to ${target.host}:${target.port} failed: ${(error as Error)?.message ?? error}`);
}

/** How far a connection got: TCP connect, the SSH handshake (banner and key exchange), authentication. */
type ConnectPhase = 'connect' | 'handshake' | 'auth';

/** What a connection attempt got to, and the host key it was shown: what its error, if any, reports. */
interface ConnectProgress {
  phase: ConnectPhase;
  presentedKey?: string;
}

function followProgress(client: Client): ConnectProgress {
  const progress: ConnectProgress = { phase: 'connect' };
  client.once('connect', () => (progress.phase = 'handshake'));
  client.once('handshake', () => (progress.phase = 'auth'));
  return progress;
}

const STALLED_PHASE: Record<ConnectPhase, string> = {
  connect: 'TCP connect: no answer from the host',
  handshake: 'SSH handshake: the port accepted the connection but the handshake did not complete',
  auth: 'authentication: the server did not answer',
};

/** A failed connection, described for users: which host, and why — never a secret. */
function toConnectError(target: SshTarget, error: unknown, phase: ConnectPhase, presentedKey?: string): SshError {
  const address = `${target.host}:${target.port}`;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException)?.code;
  const level = (error as { level?: string })?.level;
  if (target.hostKeyFingerprint && presentedKey && presentedKey !== target.hostKeyFingerprint) {
    return new SshError(
      'host_key',
      `Host key mismatch for ${address}: pinned ${target.hostKeyFingerprint}, presented ${presentedKey}. ` +
        'If the server was reinstalled, reset its host key.',
    );
  }
  if (level === 'client-authentication') return new SshError('auth', `Authentication failed for ${target.username}@${address}`);
  if (level === 'client-timeout' || code === 'ETIMEDOUT')
    return new SshError('timeout', `Timed out connecting to ${address} (${STALLED_PHASE[phase]})`);
  if (code === 'ECONNREFUSED') return new SshError('unreachable', `Connection refused by ${address}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SshError('unreachable', `Cannot resolve host ${target.host}`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new SshError('unreachable', `Host ${address} is unreachable`);
  if (/privateKey|private key|passphrase/i.test(message)) return new SshError('key', `Cannot use the private key: ${message}`);
  return new SshError('protocol', `SSH connection to ${address} failed: ${message}`);
}
