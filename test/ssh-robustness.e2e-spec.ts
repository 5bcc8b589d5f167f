import { AddressInfo, Socket as NetSocket } from 'node:net';
import { io, Socket } from 'socket.io-client';
import { TerminalGateway } from '../src/modules/terminal/terminal.gateway';
import { describeSsh, startSilentTcpHost, startSshd, TestSshd } from './helpers/sshd';
import { eventually } from './helpers/wait';
import { startStallingSshServer, StallingSshServer } from './helpers/stalling-ssh-server';
import { startTestApp, TestApp } from './helpers/test-app';

/**
 * SSH channels are always given back, opens are bounded and name the phase that stalled, connections per server
 * are capped, and a revoked caller's socket loses everything it was subscribed to. Peers: a real sshd, and an
 * ssh2 `Server` that stalls at a chosen phase.
 */

interface PoolState {
  connections: number;
  open_channels: number;
  retired_connections: number;
}

/** A Socket.IO client that records every event in order. */
class RecordingClient {
  readonly events: Array<{ name: string; payload: unknown }> = [];
  output = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.onAny((name: string, payload: unknown) => {
      if (name === 'ssh_output') this.output += (payload as { data: string }).data;
      else this.events.push({ name, payload });
      for (const waiter of [...this.waiters]) waiter();
    });
    socket.on('disconnect', (reason) => {
      this.events.push({ name: 'disconnect', payload: reason });
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  static async connect(url: string, token: string): Promise<RecordingClient> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new RecordingClient(socket);
  }

  names(from = 0): string[] {
    return this.events.slice(from).map((event) => event.name);
  }

  /** The first `name` event at or after `from`; bounded. */
  waitFor<T = Record<string, unknown>>(name: string, from = 0, timeoutMs = 10_000): Promise<T> {
    return this.until(`a ${name} event`, () => this.events.slice(from).find((event) => event.name === name)?.payload as T | undefined, timeoutMs);
  }

  until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; events ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.socket.close();
  }
}

async function listen(t: TestApp): Promise<string> {
  await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
}

async function createServer(t: TestApp, fields: Record<string, unknown>): Promise<number> {
  return (
    await t.http
      .post('/api/servers')
      .send({ password: 'pw', username: 'root', host_ip: '127.0.0.1', ...fields })
      .expect(201)
  ).body.id;
}

const poolOf = async (t: TestApp, serverId: number): Promise<PoolState> => (await t.http.get(`/api/servers/${serverId}/ssh`).expect(200)).body;

describeSsh('SSH channels are always given back (real sshd)', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let url: string;
  let serverId: number;
  const clients: RecordingClient[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
    t = await startTestApp({ TERMINAL_HIGH_WATER_BYTES: '1024', SSH_IDLE_TIMEOUT_MS: '1000' });
    url = await listen(t);
    serverId = await createServer(t, { name: 'gpu', port: sshd.port, username: sshd.username, password: sshd.password });
  });
  afterAll(async () => {
    clients.forEach((client) => client.close());
    await t?.close();
    await sshd?.stop();
  });

  const openTerminal = async (): Promise<RecordingClient> => {
    const client = await RecordingClient.connect(url, t.adminToken);
    clients.push(client);
    client.socket.emit('ssh_connect', { server_id: serverId });
    await client.waitFor('ssh_connected');
    return client;
  };

  it('shows the pool of a server, and nothing of its credentials', async () => {
    expect(await poolOf(t, serverId)).toEqual({ connections: 0, open_channels: 0, retired_connections: 0 });
    await t.http.get('/api/servers/987654/ssh').expect(404);
  });

  it('gives back the channel of a terminal whose flooded output is paused when its socket leaves, and the connection idles out', async () => {
    const client = await openTerminal();
    expect(await poolOf(t, serverId)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
    // A slow reader: the raw socket stops reading, so output piles up until flow control pauses the SSH stream.
    const raw = (client.socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
    client.socket.emit('ssh_input', { input: 'head -c 100000000 /dev/zero | base64\r' });
    await client.until('the flood to start', () => (client.output.length > 4096 ? true : undefined));
    raw.pause();
    const gateway = t.app.get(TerminalGateway);
    await eventually(
      () => gateway.stats(),
      (stats) => stats.paused === 1,
      'the terminal to be paused by flow control',
      10_000,
    );
    client.close();
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.open_channels === 0,
      'the channel to be given back',
      10_000,
    );
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.connections === 0,
      'the idle connection to close',
      10_000,
    );
  });

  it('gives back the channel of a paused terminal closed with ssh_disconnect, and answers exactly one ssh_disconnected per terminal', async () => {
    const flooded = await openTerminal();
    const raw = (flooded.socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
    flooded.socket.emit('ssh_input', { input: 'head -c 100000000 /dev/zero | base64\r' });
    await flooded.until('the flood to start', () => (flooded.output.length > 4096 ? true : undefined));
    raw.pause();
    await eventually(
      () => t.app.get(TerminalGateway).stats(),
      (stats) => stats.paused === 1,
      'the terminal to be paused',
      10_000,
    );
    flooded.socket.emit('ssh_disconnect');
    raw.resume();
    await flooded.waitFor('ssh_disconnected');
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.open_channels === 0,
      'the channel to be given back',
      10_000,
    );

    const exiting = await openTerminal();
    exiting.socket.emit('ssh_input', { input: 'exit\r' });
    await exiting.waitFor('ssh_disconnected');
    exiting.socket.emit('ssh_disconnect');
    // Handled in order: the answer to input without a terminal comes after whatever ssh_disconnect sent.
    exiting.socket.emit('ssh_input', { input: 'x' });
    await exiting.until('the answer to input without a terminal', () => exiting.events.find((event) => event.name === 'ssh_error'));
    expect(exiting.names().filter((name) => name === 'ssh_disconnected')).toHaveLength(1);
  });

  it('records bytes in and out and the duration when a terminal closes', async () => {
    const client = await openTerminal();
    client.socket.emit('ssh_input', { input: 'echo audited-bytes\r' });
    await client.until('the echo', () => (/audited-bytes\r\n/.test(client.output) ? true : undefined));
    client.socket.emit('ssh_disconnect');
    await client.waitFor('ssh_disconnected');
    const typed = 'echo audited-bytes\r'.length;
    const [closed] = await eventually(
      async () =>
        ((await t.http.get('/api/audit?action=terminal.close').expect(200)).body.events as Array<{ detail: Record<string, number> }>).filter(
          (event) => event.detail.bytes_in === typed,
        ),
      (events) => events.length === 1,
      'the terminal.close audit row of this terminal',
    );
    expect(closed.detail).toEqual({ seconds: expect.any(Number), bytes_in: typed, bytes_out: expect.any(Number) });
    expect(closed.detail.bytes_out).toBeGreaterThanOrEqual(client.output.length);
  });
});

describeSsh('connections per server are capped (real sshd)', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    sshd = await startSshd();
    t = await startTestApp({ SSH_MAX_CHANNELS: '1', SSH_MAX_CONNECTIONS_PER_SERVER: '1' });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  it('refuses a command with a clear error while the only allowed connection is full, and runs it once a channel is back', async () => {
    const serverId = await createServer(t, { name: 'capped', port: sshd.port, username: sshd.username, password: sshd.password });
    const task = (
      await t.http
        .post('/api/tasks')
        .send({ name: 'echo', command: 'echo ran', server_id: serverId, schedule_type: 'daily', timeout_seconds: 10 })
        .expect(201)
    ).body.id;
    const client = await RecordingClient.connect(url, t.adminToken);
    try {
      client.socket.emit('ssh_connect', { server_id: serverId });
      await client.waitFor('ssh_connected');
      const refused = await t.http.post(`/api/tasks/${task}/execute`).expect(200);
      expect(refused.body).toMatchObject({ success: false, error: expect.stringMatching(/All 1 SSH connections to 127\.0\.0\.1:\d+ are busy/) });
      expect(await poolOf(t, serverId)).toMatchObject({ connections: 1, open_channels: 1 });
      client.socket.emit('ssh_disconnect');
      await client.waitFor('ssh_disconnected');
      await eventually(
        () => poolOf(t, serverId),
        (pool) => pool.open_channels === 0,
        'the channel to be given back',
        10_000,
      );
      expect((await t.http.post(`/api/tasks/${task}/execute`).expect(200)).body).toMatchObject({
        success: true,
        output: expect.stringContaining('ran'),
      });
    } finally {
      client.close();
    }
  });
});

describe('opens are bounded and say which phase stalled (ssh2 servers that stall)', () => {
  let t: TestApp;
  let url: string;
  const peers: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    t = await startTestApp({
      SSH_CONNECT_TIMEOUT_MS: '1000',
      SSH_CHANNEL_OPEN_TIMEOUT_MS: '3000',
      SSH_IDLE_TIMEOUT_MS: '1000',
      TERMINAL_MAX_PER_SERVER: '1',
    });
    url = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(peers.map((peer) => peer.stop()));
  });

  const stalling = async (phase: 'auth' | 'channel-open'): Promise<StallingSshServer> => {
    const server = await startStallingSshServer(phase);
    peers.push(server);
    return server;
  };
  const taskOn = async (serverId: number): Promise<number> =>
    (
      await t.http
        .post('/api/tasks')
        .send({ name: 'stalled', command: 'true', server_id: serverId, schedule_type: 'daily', timeout_seconds: 30 })
        .expect(201)
    ).body.id;

  it('names the SSH handshake when a port accepts but never speaks SSH', async () => {
    const silent = await startSilentTcpHost();
    peers.push(silent);
    const task = await taskOn(await createServer(t, { name: 'silent', port: silent.port }));
    const res = await t.http.post(`/api/tasks/${task}/execute`).expect(200);
    expect(res.body.error).toBe(
      `Timed out connecting to 127.0.0.1:${silent.port} (SSH handshake: the port accepted the connection but the handshake did not complete)`,
    );
  });

  it('names authentication when the server never answers it', async () => {
    const server = await stalling('auth');
    const task = await taskOn(await createServer(t, { name: 'mute-auth', port: server.port }));
    const res = await t.http.post(`/api/tasks/${task}/execute`).expect(200);
    expect(res.body.error).toBe(`Timed out connecting to 127.0.0.1:${server.port} (authentication: the server did not answer)`);
  });

  it('ends a task execute at the channel-open bound, not at its own timeout, naming the phase; the connection is retired and closes', async () => {
    const server = await stalling('channel-open');
    const serverId = await createServer(t, { name: 'mute-channels', port: server.port });
    const res = await t.http.post(`/api/tasks/${await taskOn(serverId)}/execute`).expect(200);
    expect(res.body).toMatchObject({ success: false, exit_status: null });
    expect(res.body.error).toBe(
      `Timed out after 3000 ms opening an SSH channel on 127.0.0.1:${server.port} (channel open): the server accepted the connection but did not answer`,
    );
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.connections === 0 && pool.open_channels === 0,
      'the retired connection to close',
      10_000,
    );
  });

  it('frees a terminal slot at once when its socket leaves while the shell is still opening', async () => {
    const server = await stalling('channel-open');
    const serverId = await createServer(t, { name: 'mute-shells', port: server.port });
    const leaving = await RecordingClient.connect(url, t.adminToken);
    leaving.socket.emit('ssh_connect', { server_id: serverId });
    await server.opensHeld(1);
    leaving.close();

    // TERMINAL_MAX_PER_SERVER is 1: the slot of the socket that left is free again.
    const next = await RecordingClient.connect(url, t.adminToken);
    try {
      next.socket.emit('ssh_connect', { server_id: serverId });
      const { error } = await next.waitFor<{ error: string }>('ssh_error');
      expect(error).toMatch(/\(channel open\): the server accepted the connection but did not answer$/);
      expect(next.names()).toEqual(['ssh_error']);
    } finally {
      next.close();
    }
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.connections === 0 && pool.open_channels === 0,
      'the pool to let go of the server',
      10_000,
    );
  });

  it("releases an exec channel the server grants after the command's own deadline", async () => {
    const server = await stalling('channel-open');
    const serverId = await createServer(t, { name: 'late', port: server.port });
    const task = (
      await t.http
        .post('/api/tasks')
        .send({ name: 'late', command: 'true', server_id: serverId, schedule_type: 'daily', timeout_seconds: 1 })
        .expect(201)
    ).body.id;
    const res = await t.http.post(`/api/tasks/${task}/execute`).expect(200);
    expect(res.body.error).toBe(`Timed out after 1000 ms opening an SSH channel on 127.0.0.1:${server.port} (channel open)`);
    // The pool's own bound (3 s) has not passed yet: the open is still pending when the server grants it.
    const closed = server.channelClosed();
    server.grant();
    await closed;
    await eventually(
      () => poolOf(t, serverId),
      (pool) => pool.open_channels === 0,
      'the late channel to be given back',
      10_000,
    );
  });
});
