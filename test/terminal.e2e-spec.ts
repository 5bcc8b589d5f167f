import { readdirSync, readFileSync } from 'node:fs';
import { AddressInfo, Socket as NetSocket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Terminal } from '@xterm/headless';
import { io, Socket } from 'socket.io-client';
import { MAX_OUTPUT_EVENT_CHARS } from '../src/modules/terminal/terminal-session';
import { closedPort, describeSsh, startSilentTcpHost, startSshd, TestSshd } from './helpers/sshd';
import { SocketAccessMonitor } from '../src/realtime/socket-access.monitor';
import { startTestApp, TestApp } from './helpers/test-app';
import { completedCalls, until } from './helpers/wait';

const UNKNOWN_SERVER_ID = 987654;
/** The test user's bash prompt (Debian skel, coloured for xterm-256color), e.g. `infinitest@host:~$ `. */
const PROMPT = /infinitest@[^\s:]+:~\$ $/;
/** The most an SSH channel delivers in one chunk (OpenSSH's packet size). */
const SSH_PACKET_BYTES = 32 * 1024;

interface ServerEvent {
  name: string;
  payload: unknown;
}

/** Removes colour and cursor sequences so prompts and results can be matched as text. */
function stripAnsi(text: string): string {
  return text.replace(/\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]/g, '');
}

/**
 * One browser-like Socket.IO client of the terminal gateway. Everything the server sends is recorded;
 * waits are event-driven (re-checked on every arriving event) and bounded.
 */
class TerminalClient {
  readonly socket: Socket;
  /** Every server event except ssh_output, in arrival order. */
  readonly events: ServerEvent[] = [];
  /** All ssh_output data joined (unless constructed with keepOutput false). */
  output = '';
  /** The last few hundred characters of output, kept even when the whole output is not. */
  tail = '';
  outputChars = 0;
  outputEvents = 0;
  largestOutputEvent = 0;
  private readonly listeners = new Set<() => void>();
  private static markers = 0;

  private constructor(
    endpoint: Endpoint,
    private readonly keepOutput: boolean,
  ) {
    this.socket = io(endpoint.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: endpoint.token } });
    this.socket.onAny((name: string, payload: unknown) => {
      if (name === 'ssh_output') {
        const data = (payload as { data: string }).data;
        this.outputEvents++;
        this.outputChars += data.length;
        this.largestOutputEvent = Math.max(this.largestOutputEvent, data.length);
        if (this.keepOutput) this.output += data;
        this.tail = (this.tail + data).slice(-400);
      } else {
        this.events.push({ name, payload });
      }
      this.notify();
    });
    this.socket.on('disconnect', () => this.notify());
  }

  static async open(endpoint: Endpoint, options: { keepOutput?: boolean } = {}): Promise<TerminalClient> {
    const client = new TerminalClient(endpoint, options.keepOutput ?? true);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('connect', resolve);
      client.socket.once('connect_error', reject);
    });
    return client;
  }

  emit(event: string, ...payload: unknown[]): void {
    this.socket.emit(event, ...payload);
  }

  input(text: string): void {
    this.emit('ssh_input', { input: text });
  }

  /** Resolves with probe()'s first value that is neither undefined nor false; re-checked on every event. */
  until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = () => {
        const value = probe();
        if (value === undefined || value === false) return false;
        finish();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        const events = JSON.stringify(this.events.map(({ name, payload }) => ({ name, payload })));
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; events ${events}; output tail ${JSON.stringify(this.tail)}`));
      }, timeoutMs);
      if (!check()) this.listeners.add(check);
    });
  }

  /** Output received from `from` (an index into `output`) on that matches. */
  waitForOutput(pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.until(`output matching ${pattern}`, () => this.output.slice(from).match(pattern) ?? undefined, timeoutMs);
  }

  /** The first `name` event at or after index `from` of `events`. */
  async waitForEvent<T = Record<string, unknown>>(name: string, from = 0, timeoutMs = 10_000): Promise<T & { index: number }> {
    const index = await this.until(
      `a ${name} event`,
      () => {
        const found = this.events.findIndex((event, i) => i >= from && event.name === name);
        return found >= 0 ? found : undefined;
      },
      timeoutMs,
    );
    return { ...(this.events[index].payload as T), index };
  }

  /** ssh_connect, resolving with ssh_connected's payload; fails with the ssh_error if one comes instead. */
  async connect(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const from = this.events.length;
    this.emit('ssh_connect', payload);
    const event = await this.until('ssh_connected or ssh_error', () =>
      this.events.slice(from).find((e) => e.name === 'ssh_connected' || e.name === 'ssh_error'),
    );
    if (event.name === 'ssh_error') throw new Error(`ssh_connect failed: ${JSON.stringify(event.payload)}`);
    return event.payload as Record<string, unknown>;
  }

  /** Opens a shell and waits for its first prompt. */
  async openShell(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const from = this.output.length;
    const connected = await this.connect(payload);
    await this.until('the first prompt', () => PROMPT.test(stripAnsi(this.output.slice(from))));
    return connected;
  }

  /** The error of the next ssh_error after index `from`. */
  async nextError(from: number, timeoutMs = 10_000): Promise<string> {
    return (await this.waitForEvent<{ error: string }>('ssh_error', from, timeoutMs)).error;
  }

  /**
   * Types `command` and returns the lines it printed (ANSI sequences and CRs removed). Markers printed
   * before and after it are computed by the shell (`$((n))`), so the echo of the typed line never matches.
   */
  async run(command: string, timeoutMs = 10_000): Promise<string[]> {
    const n = 1000 + TerminalClient.markers++;
    const from = this.output.length;
    this.input(`echo "@@<$((${n}))"; ${command}; echo "@@>$((${n}))"\r`);
    const [, printed] = await this.waitForOutput(new RegExp(`@@<${n}\\r\\n([^]*?)@@>${n}\\r\\n`), from, timeoutMs);
    const lines = stripAnsi(printed).replace(/\r/g, '').split('\n');
    // Output ending in a newline leaves an empty last element (without one, the last line is cut at the end marker).
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /** The pid of the remote shell and of its parent (the sshd process of the SSH connection). */
  async shellPids(): Promise<{ shell: number; connection: number }> {
    const from = this.output.length;
    this.input('echo "pids=$$,$PPID."\r');
    const [, shell, connection] = await this.waitForOutput(/pids=(\d+),(\d+)\./, from);
    return { shell: Number(shell), connection: Number(connection) };
  }

  close(): void {
    this.socket.close();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Zombies count as gone: PID 1 of some containers never reaps orphans. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Live children of `pid` (sshd runs on this machine, so its processes are visible in /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z' && state !== 'X') children.push(Number(entry));
    } catch {
      // Exited while listing.
    }
  }
  return children;
}

/** A full garbage collection: V8's gc() made reachable at run time, for memory measurements. */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Feeds every ssh_output of `client` into a headless xterm.js of 80x24, as the admin UI does. `screen()`
 * returns the visible rows and `all()` every row including scrollback, right-trimmed, once xterm has
 * parsed everything received so far.
 */
function render(client: TerminalClient) {
  const term = new Terminal({ cols: 80, rows: 24, allowProposedApi: true });
  let written: Promise<void> = Promise.resolve();
  client.socket.on('ssh_output', ({ data }: { data: string }) => {
    written = new Promise<void>((resolve) => term.write(data, resolve));
  });
  const rows = async (first: () => number, count: () => number) => {
    await written; // xterm parses asynchronously; the last write's callback means all of it is on screen.
    const buffer = term.buffer.active;
    return Array.from({ length: count() }, (_, row) =>
      buffer
        .getLine(first() + row)!
        .translateToString(true)
        .trimEnd(),
    );
  };
  return {
    term,
    screen: () =>
      rows(
        () => term.buffer.active.viewportY,
        () => term.rows,
      ),
    all: () =>
      rows(
        () => 0,
        () => term.buffer.active.length,
      ),
  };
}

/** Where a socket connects, and as whom (the test app's admin). */
interface Endpoint {
  url: string;
  token: string;
}

async function listen(t: TestApp): Promise<Endpoint> {
  await t.app.listen(0, '127.0.0.1');
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, token: t.adminToken };
}

async function createServer(t: TestApp, fields: Record<string, unknown>): Promise<number> {
  const res = await t.http.post('/api/servers').send(fields).expect(201);
  return res.body.id as number;
}

describeSsh('SSH terminal over Socket.IO (real sshd)', () => {
  let sshd: TestSshd;
  const clients: TerminalClient[] = [];
  const serverFields = (name: string) => ({ name, host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password });

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterEach(() => clients.splice(0).forEach((client) => client.close()));
  afterAll(async () => {
    await sshd?.stop();
  });

  describe('with default limits', () => {
    let t: TestApp;
    let url: Endpoint;
    let serverId: number;
    const open = async () => {
      const client = await TerminalClient.open(url);
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      t = await startTestApp({ SSH_CONNECT_TIMEOUT_MS: '2500', TERMINAL_REAUTH_INTERVAL_MS: '200' });
      url = await listen(t);
      serverId = await createServer(t, serverFields('gpu-1'));
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
    });

    it('opens a shell: ssh_connected {status: connected} and a prompt in ssh_output', async () => {
      const client = await open();
      client.emit('ssh_connect', { server_id: serverId });
      const connected = await client.waitForEvent('ssh_connected');
      expect(connected).toEqual({ status: 'connected', index: 0 });
      await client.until('a prompt', () => PROMPT.test(stripAnsi(client.output)));
      expect(stripAnsi(client.output)).toMatch(PROMPT);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_connected']);
      // The pty is the advertised terminal type and initial size.
      expect(await client.run('echo "term=$TERM"; stty size')).toEqual(['term=xterm-256color', '24 80']);
    });

    it("checks the socket's token again at ssh_connect: once it is revoked, no terminal opens on the old socket", async () => {
      const { token, id } = (await t.http.post('/api/auth/tokens').send({ name: 'terminal script' }).expect(201)).body as {
        token: string;
        id: number;
      };
      // The periodic re-check would end this socket on its own (session_ended) if it ran between the revocation and
      // ssh_connect; held from before the shell opens, so no pass is still in flight, only ssh_connect's check is at work.
      const periodicRecheck = jest.spyOn(t.app.get(SocketAccessMonitor), 'recheck').mockResolvedValue();
      try {
        const client = await TerminalClient.open({ url: url.url, token });
        clients.push(client);
        await client.openShell({ server_id: serverId });
        client.emit('ssh_disconnect');
        await client.waitForEvent('ssh_disconnected');
        await t.http.delete(`/api/auth/tokens/${id}`).expect(200);

        const from = client.events.length;
        client.emit('ssh_connect', { server_id: serverId });
        expect(await client.nextError(from)).toMatch(/not signed in/);
        expect(client.events.slice(from).map((event) => event.name)).toEqual(['ssh_error']);
      } finally {
        periodicRecheck.mockRestore();
      }
    });

    it('ends an open terminal once its token is revoked, or its user is demoted to viewer', async () => {
      const { token, id } = (await t.http.post('/api/auth/tokens').send({ name: 'terminal script' }).expect(201)).body as {
        token: string;
        id: number;
      };
      const scripted = await TerminalClient.open({ url: url.url, token });
      clients.push(scripted);
      await scripted.openShell({ server_id: serverId });
      const scriptedFrom = scripted.events.length;
      await t.http.delete(`/api/auth/tokens/${id}`).expect(200);
      expect(await scripted.nextError(scriptedFrom, 5000)).toMatch(/revoked or no longer allows terminals/);
      await scripted.waitForEvent('ssh_disconnected', scriptedFrom, 5000);

      const user = (await t.http.post('/api/users').send({ username: 'olive', password: 'olive-password', role: 'operator' }).expect(201)).body as {
        id: number;
      };
      const operator = await TerminalClient.open({ url: url.url, token: await t.login('olive', 'olive-password') });
      clients.push(operator);
      await operator.openShell({ server_id: serverId });
      const from = operator.events.length;
      // Still an operator: the terminal outlives three re-checks.
      await completedCalls(t.app.get(SocketAccessMonitor), 'recheck', 3);
      expect(await operator.run('echo still-$((1+1))')).toEqual(['still-2']);
      expect(operator.events.slice(from).map((event) => event.name)).toEqual([]);
      await t.http.put(`/api/users/${user.id}`).send({ role: 'viewer' }).expect(200);
      expect(await operator.nextError(from, 5000)).toMatch(/no longer allows terminals/);
      await operator.waitForEvent('ssh_disconnected', from, 5000);
    });

    it('echoes input and runs it', async () => {
      const client = await open();
      await client.openShell({ server_id: serverId });
      const from = client.output.length;
      client.input('echo hello-$((6*7))\r');
      await client.waitForOutput(/hello-42\r\n/, from);
      // The keystrokes were echoed back, then the result, then a fresh prompt.
      await client.until('the next prompt', () => PROMPT.test(stripAnsi(client.output.slice(from))));
      const shown = stripAnsi(client.output.slice(from));
      expect(shown).toContain('echo hello-$((6*7))');
      expect(shown.indexOf('echo hello-$((6*7))')).toBeLessThan(shown.indexOf('hello-42\r\n'));
    });

    it('types auto_command once the shell has produced output: it runs exactly once', async () => {
      const client = await open();
      client.emit('ssh_connect', { server_id: serverId, auto_command: 'echo auto-$((20+3))' });
      expect(await client.waitForEvent('ssh_connected')).toEqual({ status: 'connected', index: 0 });
      await client.waitForOutput(/auto-23\r\n/);
      // Everything up to a later marker has arrived: the command ran once and was not typed again.
      expect(await client.run('echo after-$((1+1))')).toEqual(['after-2']);
      const shown = stripAnsi(client.output);
      expect(shown.match(/auto-23/g)).toHaveLength(1);
      // The result comes after the shell's prompt.
      expect(shown.search(/infinitest@[^\s:]+:~\$ /)).toBeLessThan(shown.indexOf('auto-23'));
    });

    it('shows auto_command typed at the shell prompt, once, as if the user had typed it', async () => {
      const client = await open();
      const { term, screen } = render(client);
      try {
        client.emit('ssh_connect', { server_id: serverId, auto_command: 'echo auto-$((30+4))' });
        await client.waitForOutput(/auto-34\r\n/);
        await client.until('the prompt after the command', () => PROMPT.test(stripAnsi(client.output.slice(client.output.indexOf('auto-34')))));
        const lines = (await screen()).filter((line) => line !== '');
        // Whatever banner sshd printed first, the command line appears once: after a prompt, then its result.
        const typed = lines.filter((line) => line.includes('echo auto-$((30+4))'));
        expect(typed).toHaveLength(1);
        expect(typed[0]).toMatch(/^infinitest@[^\s:]+:~\$ echo auto-\$\(\(30\+4\)\)$/);
        expect(lines.slice(-2)).toEqual(['auto-34', expect.stringMatching(/^infinitest@[^\s:]+:~\$$/)]);
      } finally {
        term.dispose();
      }
    });

    it('reports reused: false for the first service terminal of a server and reused: true for the next', async () => {
      const serviceServer = await createServer(t, serverFields('gpu-service'));
      const first = await open();
      expect(await first.openShell({ server_id: serviceServer, service_id: 7 })).toEqual({ status: 'connected', reused: false });
      const second = await open();
      expect(await second.openShell({ server_id: serviceServer, service_id: 7 })).toEqual({ status: 'connected', reused: true });
      // Both shells are channels of the one SSH connection: the same sshd connection process is their parent.
      const [a, b] = await Promise.all([first.shellPids(), second.shellPids()]);
      expect(a.shell).not.toBe(b.shell);
      expect(a.connection).toBe(b.connection);
    });

    it('starts the pty at the cols and rows given in ssh_connect (stty size), each defaulting on its own', async () => {
      const sized = await open();
      await sized.openShell({ server_id: serverId, cols: 132, rows: 43 });
      expect(await sized.run('stty size')).toEqual(['43 132']);
      const colsOnly = await open();
      await colsOnly.openShell({ server_id: serverId, cols: 100, rows: null });
      expect(await colsOnly.run('stty size')).toEqual(['24 100']);
      expect([...sized.events, ...colsOnly.events].map((event) => event.name)).toEqual(['ssh_connected', 'ssh_connected']);
    });

    it('applies ssh_resize to the remote pty (stty size)', async () => {
      const client = await open();
      await client.openShell({ server_id: serverId });
      expect(await client.run('stty size')).toEqual(['24 80']);
      client.emit('ssh_resize', { cols: 123, rows: 45 });
      expect(await client.run('stty size')).toEqual(['45 123']);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_connected']);
    });

    it('delivers thousands of Chinese characters whole, without U+FFFD', async () => {
      const client = await open();
      await client.openShell({ server_id: serverId });
      const eventsBefore = client.outputEvents;
      // 中 = e4 b8 ad, 文 = e6 96 87: typed as octal escapes, so the input is plain ASCII whatever the remote locale.
      const printed = await client.run(`printf '\\344\\270\\255\\346\\226\\207%.0s' $(seq 1 20000); echo`, 20_000);
      expect(printed).toHaveLength(1);
      expect(printed[0].length).toBe(40_000);
      expect(printed[0]).toBe('中文'.repeat(20_000));
      expect(client.output).not.toContain('\uFFFD');
      // 120 kB arrive as several events; the pty hands sshd reads of up to 4 KiB, not a multiple of 3 bytes,
      // so characters straddled the chunks the gateway decoded.
      expect(client.outputEvents - eventsBefore).toBeGreaterThan(1);
    });

    it('answers an unknown server with ssh_error naming it', async () => {
      const client = await open();
      client.emit('ssh_connect', { server_id: UNKNOWN_SERVER_ID });
      expect(await client.nextError(0)).toBe(`Server ${UNKNOWN_SERVER_ID} not found`);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_error']);
    });

    it('answers a dead host (closed port) with ssh_error within a few seconds', async () => {
      const port = await closedPort();
      const dead = await createServer(t, { ...serverFields('dead'), port });
      const client = await open();
      const started = Date.now();
      client.emit('ssh_connect', { server_id: dead });
      expect(await client.nextError(0, 5000)).toBe(`Connection refused by 127.0.0.1:${port}`);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_error']);
    });

    it('answers a host that never completes the handshake with a timeout ssh_error', async () => {
      const silent = await startSilentTcpHost();
      try {
        const hanging = await createServer(t, { ...serverFields('silent'), port: silent.port });
        const client = await open();
        const started = Date.now();
        client.emit('ssh_connect', { server_id: hanging });
        expect(await client.nextError(0, 8000)).toBe(
          `Timed out connecting to 127.0.0.1:${silent.port} (SSH handshake: the port accepted the connection but the handshake did not complete)`,
        );
        expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      } finally {
        await silent.stop();
      }
    });

    it('answers wrong credentials with an authentication ssh_error that does not leak the password', async () => {
      const wrong = await createServer(t, { ...serverFields('wrong-password'), password: 'not-the-password' });
      const client = await open();
      client.emit('ssh_connect', { server_id: wrong });
      const error = await client.nextError(0);
      expect(error).toBe(`Authentication failed for ${sshd.username}@127.0.0.1:${sshd.port}`);
      expect(error).not.toContain('not-the-password');
    });

    it('answers bad payloads with ssh_error and keeps the socket and its terminal usable', async () => {
      const client = await open();
      const errorFor = async (event: string, ...payload: unknown[]) => {
        const from = client.events.length;
        client.emit(event, ...payload);
        return client.nextError(from);
      };
      // Before any terminal is open.
      expect(await errorFor('ssh_connect', {})).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect')).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: String(serverId) })).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: 1.5 })).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: -1 })).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: serverId, service_id: 'x' })).toBe('service_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: serverId, auto_command: 42 })).toMatch(/^auto_command must be a string/);
      for (const size of [
        { cols: 0 },
        { rows: 1001 },
        { cols: '132', rows: 43 },
        { cols: 80.5, rows: 24 },
        { cols: 132, rows: -1 },
        { cols: true },
      ]) {
        expect(await errorFor('ssh_connect', { server_id: serverId, ...size })).toBe('cols and rows must be integers from 1 to 1000');
      }
      expect(client.events.map((event) => event.name)).not.toContain('ssh_connected');
      expect(await errorFor('ssh_input', { input: 'ls\r' })).toBe(
        'No terminal is open on this connection: send ssh_connect first (a terminal lives on the backend instance that opened it; a reconnected socket opens a new one)',
      );

      await client.openShell({ server_id: serverId });
      expect(await errorFor('ssh_input', { input: 42 })).toBe('input must be a string');
      expect(await errorFor('ssh_input', {})).toBe('input must be a string');
      expect(await errorFor('ssh_input', 'echo raw\r')).toBe('input must be a string');
      // Oversized input is refused whole: none of it reaches the shell.
      expect(await errorFor('ssh_input', { input: `echo oversized-$((1+1))${' '.repeat(64 * 1024)}\r` })).toBe(
        'input is longer than 65536 characters',
      );
      expect(await errorFor('ssh_resize', { cols: 0, rows: 24 })).toBe('cols and rows must be integers from 1 to 1000');
      expect(await errorFor('ssh_resize', { cols: 80 })).toBe('cols and rows must be integers from 1 to 1000');
      expect(await errorFor('ssh_resize', { cols: 80.5, rows: 24 })).toBe('cols and rows must be integers from 1 to 1000');
      expect(await errorFor('ssh_connect', { server_id: 'abc' })).toBe('server_id must be a positive integer');
      expect(await errorFor('ssh_connect', { server_id: serverId, cols: 5000, rows: 24 })).toBe('cols and rows must be integers from 1 to 1000');

      // The socket, and the terminal opened on it, still work; the refused input never ran.
      expect(client.socket.connected).toBe(true);
      expect(await client.run('echo alive-$((2+3))')).toEqual(['alive-5']);
      expect(await client.run('stty size')).toEqual(['24 80']);
      expect(client.output).not.toContain('oversized-2');
      expect(client.events.filter((event) => event.name === 'ssh_disconnected')).toEqual([]);
    });

    it('ssh_disconnect closes only its own channel: the remote shell exits, a shell on the same connection keeps working', async () => {
      const leaving = await open();
      const staying = await open();
      await leaving.openShell({ server_id: serverId });
      await staying.openShell({ server_id: serverId });
      const [gone, kept] = await Promise.all([leaving.shellPids(), staying.shellPids()]);
      expect(gone.connection).toBe(kept.connection);
      expect(isAlive(gone.shell)).toBe(true);

      const from = leaving.events.length;
      leaving.emit('ssh_disconnect');
      expect(await leaving.waitForEvent('ssh_disconnected', from)).toEqual({ status: 'disconnected', index: from });
      await until(() => !isAlive(gone.shell), `remote shell ${gone.shell} to exit`);

      expect(await staying.run('echo still-$((40+2))')).toEqual(['still-42']);
      expect(isAlive(kept.shell)).toBe(true);
      expect(isAlive(kept.connection)).toBe(true);
      // Input after the disconnect has no terminal to go to; the socket itself stays open for a new one.
      const afterFrom = leaving.events.length;
      leaving.input('echo nowhere\r');
      expect(await leaving.nextError(afterFrom)).toBe(
        'No terminal is open on this connection: send ssh_connect first (a terminal lives on the backend instance that opened it; a reconnected socket opens a new one)',
      );
      await leaving.openShell({ server_id: serverId });
      expect(await leaving.run('echo again-$((1+1))')).toEqual(['again-2']);
    });

    it('a client socket disconnect closes its channel on the server: the remote shell exits', async () => {
      const leaving = await open();
      const staying = await open();
      await leaving.openShell({ server_id: serverId });
      await staying.openShell({ server_id: serverId });
      const [gone, kept] = await Promise.all([leaving.shellPids(), staying.shellPids()]);
      leaving.close();
      await until(() => !isAlive(gone.shell), `remote shell ${gone.shell} to exit`);
      expect(await staying.run('echo survivor-$((3*3))')).toEqual(['survivor-9']);
      expect(isAlive(kept.shell)).toBe(true);
    });

    it('reports ssh_disconnected when the remote shell exits', async () => {
      const client = await open();
      await client.openShell({ server_id: serverId });
      client.input('exit\r');
      expect(await client.waitForEvent('ssh_disconnected')).toMatchObject({ status: 'disconnected' });
    });

    describe('rendered through @xterm/headless', () => {
      it('draws cursor-addressed output where the escape sequences put it', async () => {
        const client = await open();
        const { term, screen } = render(client);
        try {
          await client.openShell({ server_id: serverId });
          const from = client.output.length;
          client.input("clear; printf '\\e[5;10H%s%s\\e[7;1H' HEL LO\r");
          await client.waitForOutput(/\x1b\[5;10HHELLO\x1b\[7;1H/, from);
          await client.until('the prompt after the drawing', () => PROMPT.test(stripAnsi(client.output.slice(from))));
          const lines = await screen();
          expect(lines.slice(0, 4)).toEqual(['', '', '', '']);
          expect(lines[4]).toBe(`${' '.repeat(9)}HELLO`);
          expect(lines[4].indexOf('HELLO')).toBe(9);
          expect(lines[5]).toBe('');
          expect(lines[6]).toMatch(/^infinitest@[^\s:]+:~\$$/);
          // The cursor waits after the prompt's trailing space.
          expect([term.buffer.active.cursorY, term.buffer.active.cursorX]).toEqual([6, lines[6].length + 1]);
        } finally {
          term.dispose();
        }
      });

      it('renders a full-screen program (top) into the 80x24 screen', async () => {
        const client = await open();
        const { term, all } = render(client);
        try {
          await client.openShell({ server_id: serverId });
          const from = client.output.length;
          client.input('top -n 1\r');
          await client.waitForOutput(/Tasks:/, from);
          await client.until('the prompt after top', () => PROMPT.test(stripAnsi(client.output.slice(from))));
          // top painted the whole 24-row screen; leaving, it moved below the last row, which scrolled the
          // first one (the summary line) into the scrollback. So look at the frame in the whole buffer.
          const lines = await all();
          const top = lines.findIndex((line) => line.startsWith('top - '));
          expect(top).toBeGreaterThanOrEqual(0);
          expect(lines[top]).toMatch(/^top - \d\d:\d\d:\d\d up .*load average: [\d.]+, [\d.]+, [\d.]+$/);
          expect(lines[top + 1]).toMatch(/^Tasks: *\d+ total, *\d+ running/);
          expect(lines[top + 2]).toMatch(/^%Cpu\(s\): *[\d.]+ us,/);
          expect(lines[top + 3]).toMatch(/^[KMG]iB Mem : /);
          expect(lines[top + 4]).toMatch(/^[KMG]iB Swap: /);
          expect(lines[top + 5]).toBe('');
          expect(lines[top + 6]).toMatch(/^ +PID USER +PR +NI +VIRT +RES +SHR S +%CPU +%MEM +TIME\+ COMMAND$/);
          // Process rows fill the rest of the 24-row screen exactly, then the prompt on the last row.
          const processRows = lines.slice(top + 7, top + 24);
          expect(processRows.filter((line) => /^ *\d+ \S+ +(-?\d+|rt) +-?\d+ /.test(line))).toHaveLength(17);
          expect(lines[top + 24]).toMatch(/^infinitest@[^\s:]+:~\$$/);
          expect(lines).toHaveLength(top + 25);
          expect(term.buffer.active.cursorY).toBe(23);
        } finally {
          term.dispose();
        }
      });
    });
  });

  describe('with a short idle timeout', () => {
    let t: TestApp;
    let url: Endpoint;
    let serverId: number;

    beforeAll(async () => {
      t = await startTestApp({ TERMINAL_IDLE_TIMEOUT_MS: '1500' });
      url = await listen(t);
      serverId = await createServer(t, serverFields('idle'));
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
    });

    it('closes a terminal without input or output: ssh_error, then ssh_disconnected, and the remote shell exits', async () => {
      const client = await TerminalClient.open(url);
      clients.push(client);
      await client.openShell({ server_id: serverId });
      const { shell } = await client.shellPids();
      const quietSince = Date.now();
      const error = await client.waitForEvent<{ error: string }>('ssh_error', 0, 6000);
      expect(error.error).toBe('Terminal closed after 1500 ms without activity');
      expect(Date.now() - quietSince).toBeGreaterThanOrEqual(1400);
      const disconnected = await client.waitForEvent('ssh_disconnected', 0, 3000);
      expect(disconnected).toEqual({ status: 'disconnected', index: error.index + 1 });
      await until(() => !isAlive(shell), `remote shell ${shell} to exit`);
      expect(client.socket.connected).toBe(true);
    });

    it('keeps a terminal open while output keeps coming', async () => {
      const client = await TerminalClient.open(url);
      clients.push(client);
      await client.openShell({ server_id: serverId });
      // Output every second for 4 s: longer than the 1.5 s timeout, but never quiet for that long.
      const printed = await client.run('for i in 1 2 3 4; do sleep 1; echo "tick-$i-$((i*10))"; done', 10_000);
      expect(printed).toEqual(['tick-1-10', 'tick-2-20', 'tick-3-30', 'tick-4-40']);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_connected']);
    });
  });

  describe('with limits of 2 terminals per server and 3 in total', () => {
    let t: TestApp;
    let url: Endpoint;

    beforeAll(async () => {
      t = await startTestApp({ TERMINAL_MAX_PER_SERVER: '2', TERMINAL_MAX_TOTAL: '3' });
      url = await listen(t);
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
    });

    it('refuses the third terminal on a server and the fourth in total, and admits again once one closes', async () => {
      const a = await createServer(t, serverFields('limit-a'));
      const b = await createServer(t, serverFields('limit-b'));
      const open = async () => {
        const client = await TerminalClient.open(url);
        clients.push(client);
        return client;
      };
      const [a1, a2, a3, b1, b2] = await Promise.all([open(), open(), open(), open(), open()]);
      await a1.openShell({ server_id: a });
      await a2.openShell({ server_id: a });
      a3.emit('ssh_connect', { server_id: a });
      expect(await a3.nextError(0)).toBe(`Too many open terminals on server ${a} (limit 2)`);
      await b1.openShell({ server_id: b });
      b2.emit('ssh_connect', { server_id: b });
      expect(await b2.nextError(0)).toBe('Too many open terminals (limit 3)');
      expect(a3.events.map((event) => event.name)).toEqual(['ssh_error']);
      expect(b2.events.map((event) => event.name)).toEqual(['ssh_error']);

      // The refused ones did not disturb the open ones.
      expect(await a1.run('echo a1-$((1+1))')).toEqual(['a1-2']);

      const from = a2.events.length;
      a2.emit('ssh_disconnect');
      await a2.waitForEvent('ssh_disconnected', from);
      await a3.openShell({ server_id: a });
      expect(await a3.run('echo a3-$((1+2))')).toEqual(['a3-3']);
    });
  });

  describe('a UTF-8 locale for the shell', () => {
    /** Accepts the channel's env, as the sshd_config of Debian and RHEL do (upstream's default accepts none). */
    let accepting: TestSshd;
    /** Accepts no env, but sets a locale of its own, as a profile or /etc/default/locale would. */
    let localeSetting: TestSshd;
    /** Asks a question before the login shell starts, as an expired password's change does. */
    let asking: TestSshd;
    /** Runs no shell at all. */
    let catOnly: TestSshd;
    let t: TestApp;
    let url: Endpoint;
    const fieldsOf = (peer: TestSshd, name: string) => ({
      name,
      host_ip: peer.host,
      port: peer.port,
      username: peer.username,
      password: peer.password,
    });
    const open = async () => {
      const client = await TerminalClient.open(url);
      clients.push(client);
      return client;
    };
    /** Where the shell's LANG came from: the environment sshd started it with (the channel's env), or not. */
    const LANG_FROM_SSHD = `tr '\\0' '\\n' < /proc/$$/environ | grep '^LANG=' || echo 'no LANG from sshd'`;

    /** What a user sees of the locale: LANG, the character set, Chinese typed and printed, counted and listed. */
    async function expectUtf8(client: TerminalClient, lang = 'C.UTF-8'): Promise<void> {
      expect(await client.run(`echo "LANG=$LANG"; locale charmap`)).toEqual([`LANG=${lang}`, 'UTF-8']);
      // Typed as UTF-8 through ssh_input: the shell counts two characters (six bytes in the C locale), prints them
      // back, and ls shows a file of that name as it is (in the C locale: ''$'\344\270\255\346\226\207').
      expect(await client.run(`printf '中文\\n'; printf '中文\\n' | od -An -tx1; s='中文'; echo "chars=\${#s}"`)).toEqual([
        '中文',
        ' e4 b8 ad e6 96 87 0a',
        'chars=2',
      ]);
      expect(await client.run(`d=$(mktemp -d); touch "$d/中文"; ls "$d"; rm -r "$d"`)).toEqual(['中文']);
      expect(client.output).not.toContain('\uFFFD');
    }

    /**
     * The screen shows what the user did and nothing else: the locale line typed at the first prompt left no trace,
     * and the prompt it was typed at was redrawn in place, so the first command follows the one and only first prompt.
     */
    async function expectNoTraceOfTheLocaleLine(client: TerminalClient, all: () => Promise<string[]>): Promise<void> {
      expect(client.output).not.toContain('LC_CTYPE');
      expect(client.output).not.toContain('\x1b]6973');
      const lines = (await all()).filter((line) => line !== '' && !line.startsWith('Last login:'));
      expect(lines[0]).toMatch(/^infinitest@[^\s:]+:~\$ echo "@@<\$\(\(\d+\)\)"; /);
    }

    beforeAll(async () => {
      [accepting, localeSetting, asking, catOnly] = await Promise.all([
        startSshd({ extraConfig: ['AcceptEnv LANG LC_*'] }),
        startSshd({ extraConfig: ['SetEnv LANG=C.utf8'] }),
        startSshd({ extraConfig: [`ForceCommand read -p 'Continue? ' answer; echo "answer=$answer"; exec bash -l`] }),
        startSshd({ extraConfig: ['ForceCommand cat'] }),
      ]);
      t = await startTestApp();
      url = await listen(t);
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
      await Promise.all([accepting, localeSetting, asking, catOnly].map((peer) => peer?.stop()));
    });

    it('sends LANG=C.UTF-8 with the channel env: a server that accepts it starts the shell with it', async () => {
      const client = await open();
      const { term, all } = render(client);
      try {
        await client.openShell({ server_id: await createServer(t, fieldsOf(accepting, 'env-accepted')) });
        expect(await client.run(LANG_FROM_SSHD)).toEqual(['LANG=C.UTF-8']);
        await expectUtf8(client);
        await expectNoTraceOfTheLocaleLine(client, all);
      } finally {
        term.dispose();
      }
    });

    it('sets LANG=C.UTF-8 at the first prompt where the server refuses the env, without a trace on screen or in history', async () => {
      const client = await open();
      const { term, all } = render(client);
      try {
        await client.openShell({ server_id: await createServer(t, fieldsOf(sshd, 'env-refused')) });
        expect(await client.run(LANG_FROM_SSHD)).toEqual(['no LANG from sshd']);
        await expectUtf8(client);
        // Its leading space kept the line out of bash's history (HISTCONTROL=ignoreboth in Debian's skel).
        expect(await client.run(`history | grep -c 'export LAN[G]'`)).toEqual(['0']);
        await expectNoTraceOfTheLocaleLine(client, all);
      } finally {
        term.dispose();
      }
    });

    it('types keystrokes sent before the shell is ready after the locale line, not into it', async () => {
      const client = await open();
      client.emit('ssh_connect', {
        server_id: await createServer(t, fieldsOf(sshd, 'early-typist')),
        auto_command: 'echo "auto-$((1+1)) LANG=$LANG"',
      });
      await client.waitForEvent('ssh_connected');
      client.input('echo "early-$((1+2)) LANG=$LANG"\r');
      await client.waitForOutput(/early-3 LANG=.*\r\n/);
      // auto_command first, then the early keystrokes, each once and whole, both in the UTF-8 shell.
      const results = client.output.match(/(auto-2|early-3) LANG=.*\r\n/g);
      expect(results).toEqual(['auto-2 LANG=C.UTF-8\r\n', 'early-3 LANG=C.UTF-8\r\n']);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_connected']);
    });

    it('never answers a question asked before the shell starts with the locale line: the user answers it', async () => {
      const client = await open();
      await client.connect({ server_id: await createServer(t, fieldsOf(asking, 'asking')) });
      await client.waitForOutput(/Continue\? $/);
      // A window longer than the startup's quiet time (300 ms), in which it would have typed at a prompt.
      await delay(600);
      client.input('yes\r');
      await client.waitForOutput(/answer=yes\r\n/);
      await client.until('the shell prompt', () => PROMPT.test(stripAnsi(client.output)));
      expect(await client.run('echo works-$((2*3))')).toEqual(['works-6']);
      expect(client.output).not.toContain('LC_CTYPE');
    });

    it('holds a session that runs no shell (ForceCommand cat) for at most 3 s: then keystrokes and output flow', async () => {
      const client = await open();
      await client.connect({ server_id: await createServer(t, fieldsOf(catOnly, 'cat-only')) });
      const sent = Date.now();
      client.input('hello-cat\r');
      // cat echoes the line back (once by the pty, once by cat itself).
      await client.waitForOutput(/hello-cat\r\n[^]*hello-cat\r\n/, 0, 8000);
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(client.events.map((event) => event.name)).toEqual(['ssh_connected']);
    });

    it('keeps a locale the server or profile sets (LANG=C.utf8 here) rather than replacing it', async () => {
      const client = await open();
      await client.openShell({ server_id: await createServer(t, fieldsOf(localeSetting, 'locale-set')) });
      expect(await client.run(LANG_FROM_SSHD)).toEqual(['LANG=C.utf8']);
      await expectUtf8(client, 'C.utf8');
    });
  });

  describe('host key pinning', () => {
    let own: TestSshd;
    let t: TestApp;
    let url: Endpoint;

    beforeAll(async () => {
      own = await startSshd();
      t = await startTestApp();
      url = await listen(t);
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
      await own?.stop();
    });

    it('pins the key on the first terminal and refuses a changed key with ssh_error naming the mismatch', async () => {
      const id = await createServer(t, { name: 'pinned', host_ip: own.host, port: own.port, username: own.username, password: own.password });
      const first = await TerminalClient.open(url);
      clients.push(first);
      await first.openShell({ server_id: id });
      const pinned = own.hostKeyFingerprint;
      // Pinning is written in the background once the connection is up.
      for (const deadline = Date.now() + 5000; ; await delay(20)) {
        const { body } = await t.http.get(`/api/servers/${id}`).expect(200);
        if (body.host_key_fingerprint === pinned) break;
        if (Date.now() > deadline) throw new Error(`host key not pinned: ${JSON.stringify(body.host_key_fingerprint)}`);
      }
      const from = first.events.length;
      first.emit('ssh_disconnect');
      await first.waitForEvent('ssh_disconnected', from);

      await own.restart({ newHostKey: true });
      expect(own.hostKeyFingerprint).not.toBe(pinned);
      const second = await TerminalClient.open(url);
      clients.push(second);
      second.emit('ssh_connect', { server_id: id });
      const error = await second.nextError(0);
      expect(error).toContain(`Host key mismatch for 127.0.0.1:${own.port}`);
      expect(error).toContain(pinned);
      expect(error).toContain(own.hostKeyFingerprint);
      expect(second.events.map((event) => event.name)).toEqual(['ssh_error']);
      expect(second.output).toBe('');
    });
  });

  describe('flow control', () => {
    let t: TestApp;
    let url: Endpoint;
    let serverId: number;
    const MB = 1024 * 1024;
    const READER_BYTES_PER_SECOND = 4 * MB;
    const WINDOW_SECONDS = 10;

    beforeAll(async () => {
      t = await startTestApp({ TERMINAL_HIGH_WATER_BYTES: String(64 * 1024) });
      url = await listen(t);
      serverId = await createServer(t, serverFields('flood'));
    });
    afterAll(async () => {
      clients.splice(0).forEach((client) => client.close());
      await t?.close();
    });

    /**
     * Makes the client a slow reader: its raw TCP socket is paused whenever it has read `bytesPerTick`
     * in the current 50 ms tick, so unread output piles up in front of the server, not in the client.
     */
    const throttle = (client: TerminalClient, bytesPerSecond: number) => {
      const transport = client.socket.io.engine.transport as unknown as { ws?: { _socket?: NetSocket } };
      const raw = transport.ws?._socket;
      if (!raw) throw new Error('no raw websocket socket to throttle');
      const bytesPerTick = bytesPerSecond / 20;
      let tickBytes = 0;
      let timer: NodeJS.Timeout | undefined;
      const onData = (chunk: Buffer) => {
        tickBytes += chunk.length;
        if (tickBytes < bytesPerTick || timer) return;
        raw.pause();
        timer = setTimeout(() => {
          timer = undefined;
          tickBytes = 0;
          raw.resume();
        }, 50);
      };
      raw.on('data', onData);
      return () => {
        clearTimeout(timer);
        raw.off('data', onData);
        raw.resume();
      };
    };

    it('keeps RSS bounded while a slow reader receives a flood, which keeps flowing until ssh_disconnect', async () => {
      const client = await TerminalClient.open(url, { keepOutput: false });
      clients.push(client);
      // The prompt and pid come before the flood; output is only counted (and scanned for markers) below.
      client.emit('ssh_connect', { server_id: serverId });
      await client.waitForEvent('ssh_connected');
      await client.until('a prompt', () => PROMPT.test(stripAnsi(client.tail)));
      client.input('echo "pids=$$,$PPID."\r');
      const [, shellPid] = await client.until('the shell pid', () => client.tail.match(/pids=(\d+),\d+\./) ?? undefined);
      const shell = Number(shellPid);

      const stopThrottle = throttle(client, READER_BYTES_PER_SECOND);
      // RSS every 100 ms; once a second also after a full GC, with what the heap and buffers still hold then
      // (garbage from the data that did get through says nothing about buffering).
      const retained = () => {
        collectGarbage();
        const usage = process.memoryUsage();
        return { rss: usage.rss, held: usage.heapUsed + usage.external };
      };
      const baseline = retained();
      const samples: Array<{ at: number; rss: number; received: number }> = [];
      const afterGc: Array<{ rss: number; held: number }> = [];
      const sampler = setInterval(() => {
        samples.push({ at: Date.now(), rss: process.memoryUsage().rss, received: client.outputChars });
        if (samples.length % 10 === 0) afterGc.push(retained());
      }, 100);
      try {
        client.input('head -c 200000000 /dev/zero | base64\r');
        // The flood is underway once the pipeline runs and base64 text arrives.
        await client.until('the flood to start', () => /(AAAA){19}\r\n/.test(client.tail), 10_000);
        const pipeline = childrenOf(shell);
        expect(pipeline.length).toBe(2);

        // A measurement window (not a synchronisation point) during which the reader stays slow.
        const start = Date.now();
        const receivedAtStart = client.outputChars;
        await delay(WINDOW_SECONDS * 1000);
        // Output received in each 2 s span of the window.
        const receivedBy = (time: number) => samples.filter((sample) => sample.at <= time).pop()?.received ?? receivedAtStart;
        const spans = Array.from(
          { length: WINDOW_SECONDS / 2 },
          (_, i) => receivedBy(start + (i + 1) * 2000) - (i === 0 ? receivedAtStart : receivedBy(start + i * 2000)),
        );
        const rssGrowth = Math.max(...samples.map((sample) => sample.rss)) - baseline.rss;
        const rssAfterGcGrowth = Math.max(...afterGc.map((sample) => sample.rss)) - baseline.rss;
        const heldGrowth = Math.max(...afterGc.map((sample) => sample.held)) - baseline.held;
        const mb = (bytes: number) => (bytes / MB).toFixed(1);
        console.log(
          `flood through a ${mb(READER_BYTES_PER_SECOND)} MB/s reader: RSS baseline ${mb(baseline.rss)} MB, peak +${mb(rssGrowth)} MB, ` +
            `peak after GC +${mb(rssAfterGcGrowth)} MB; heap+external after GC +${mb(heldGrowth)} MB at most; ` +
            `received ${mb(client.outputChars)} MB in ${client.outputEvents} events; per 2 s span (MB): ${spans.map(mb).join(', ')}`,
        );
        // Output kept flowing all along, at about the reader's pace...
        expect(Math.min(...spans)).toBeGreaterThanOrEqual(1 * MB);
        // ...while what the reader had not taken yet did not pile up in the server. Without flow control,
        // the unread output held in memory grows by about 10 MB/s here, passing these bounds within seconds.
        expect(rssGrowth).toBeLessThan(150 * MB);
        expect(heldGrowth).toBeLessThan(64 * MB);
        // However much a resumed stream delivers at once, xterm.js gets it in bounded writes.
        expect(client.largestOutputEvent).toBeLessThanOrEqual(MAX_OUTPUT_EVENT_CHARS + SSH_PACKET_BYTES);

        const from = client.events.length;
        client.emit('ssh_disconnect');
        expect(await client.waitForEvent('ssh_disconnected', from, 15_000)).toMatchObject({ status: 'disconnected' });
        await until(() => ![shell, ...pipeline].some(isAlive), 'the remote shell and its flood pipeline to exit');
      } finally {
        clearInterval(sampler);
        stopThrottle();
      }
      // Nothing more arrives for the closed terminal, and a second ssh_disconnect does not report it ended again.
      const after = client.outputChars;
      const from = client.events.length;
      client.emit('ssh_disconnect');
      // Handled in order: the answer to input without a terminal comes after whatever ssh_disconnect sent.
      client.input('x');
      await client.until('the answer to input without a terminal', () => client.events.slice(from).some((e) => e.name === 'ssh_error'));
      expect(client.events.slice(from).map((e) => e.name)).toEqual(['ssh_error']);
      expect(client.outputChars).toBe(after);
    }, 90_000);
  });
});
