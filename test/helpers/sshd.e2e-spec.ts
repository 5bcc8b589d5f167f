import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Client, ConnectConfig } from 'ssh2';
import { closedPort, describeSsh, startSilentTcpHost, startSshd, TestSshd } from './sshd';
import { until } from './wait';

function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Connects and resolves with the client plus the fingerprint of the host key it was shown. */
function connect(config: ConnectConfig): Promise<{ client: Client; hostFingerprint: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostFingerprint = '';
    client
      .on('ready', () => resolve({ client, hostFingerprint }))
      .on('error', (error) => {
        client.end();
        reject(error);
      })
      .connect({
        readyTimeout: 5000,
        ...config,
        hostVerifier: (key: Buffer) => {
          hostFingerprint = fingerprint(key);
          return true;
        },
      });
  });
}

function exec(client: Client, command: string, pty = false): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, { pty }, (error, channel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code = -1;
      channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      channel.on('exit', (exitCode: number) => (code = exitCode));
      channel.on('close', () => resolve({ stdout, stderr, code }));
    });
  });
}

/** Waits for the client's TCP connection to be closed. */
function closed(client: Client): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** Zombies count as dead: PID 1 of some containers never reaps orphans. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeSsh('test sshd helper', () => {
  let sshd: TestSshd;
  const clients: Client[] = [];
  const login = async (auth: Partial<ConnectConfig>) => {
    const connection = await connect({ host: sshd.host, port: sshd.port, username: sshd.username, ...auth });
    clients.push(connection.client);
    return connection;
  };

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterEach(() => clients.splice(0).forEach((client) => client.end()));
  afterAll(() => sshd?.stop());

  it.each([
    ['password', () => ({ password: sshd.password })],
    ['private key', () => ({ privateKey: sshd.privateKey })],
    ['encrypted private key + passphrase', () => ({ privateKey: sshd.encryptedPrivateKey, passphrase: sshd.passphrase })],
  ])('logs in with %s and runs commands with and without a pty', async (_, auth) => {
    const { client } = await login(auth());
    for (const pty of [false, true]) {
      const whoami = await exec(client, 'whoami', pty);
      expect({ ...whoami, stdout: whoami.stdout.trim() }).toEqual({ stdout: 'infinitest', stderr: '', code: 0 });
      expect((await exec(client, 'echo $HOME', pty)).stdout.trim()).toBe('/home/infinitest');
    }
    expect(await exec(client, "bash -lc 'cd && pwd'")).toEqual({ stdout: '/home/infinitest\n', stderr: '', code: 0 });
  });

  it('rejects a wrong password', async () => {
    await expect(login({ password: 'wrong' })).rejects.toThrow(/authentication methods failed/);
  });

  it('reports the host key whose fingerprint the helper computed', async () => {
    expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const { hostFingerprint } = await login({ password: sshd.password });
    expect(hostFingerprint).toBe(sshd.hostKeyFingerprint);
  });

  it('lists per-connection sshd processes and drops them when the client leaves', async () => {
    // Sessions ended by earlier tests go away asynchronously on the server.
    await until(() => sshd.sshdPids().length === 1, 'only the listener to be left');
    const [listener] = sshd.sshdPids();
    const { client } = await login({ privateKey: sshd.privateKey });
    expect(sshd.sshdPids().length).toBeGreaterThan(1);
    expect(sshd.sshdPids()[0]).toBe(listener);
    client.end();
    await until(() => sshd.sshdPids().length === 1, 'only the listener to be left');
  });

  it('restarts on the same port, killing open sessions, and can rotate the host key', async () => {
    const { port, hostKeyFingerprint } = sshd;
    const { client } = await login({ password: sshd.password });
    const sessionPids = sshd.sshdPids().slice(1);
    const clientClosed = closed(client);

    await sshd.restart();
    await clientClosed;
    expect(sessionPids.filter(isAlive)).toEqual([]);
    expect(sshd.port).toBe(port);
    expect((await login({ password: sshd.password })).hostFingerprint).toBe(hostKeyFingerprint);

    await sshd.restart({ newHostKey: true });
    expect(sshd.port).toBe(port);
    expect(sshd.hostKeyFingerprint).not.toBe(hostKeyFingerprint);
    expect((await login({ password: sshd.password })).hostFingerprint).toBe(sshd.hostKeyFingerprint);
  });

  it('reuses a given host key, honours maxSessions, and stops a second instance without touching the first', async () => {
    const other = await startSshd({ hostKey: sshd.hostKeyPath, maxSessions: 1 });
    try {
      expect(other.port).not.toBe(sshd.port);
      expect(other.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      const { client } = await connect({ host: other.host, port: other.port, username: other.username, password: other.password });
      clients.push(client);
      await new Promise((resolve, reject) => client.exec('sleep 30', (error, channel) => (error ? reject(error) : resolve(channel))));
      await expect(exec(client, 'true')).rejects.toThrow(/open fail/i);
      const pids = other.sshdPids();
      const clientClosed = closed(client);
      await other.stop();
      await other.stop();
      await clientClosed;
      expect(pids.filter(isAlive)).toEqual([]);
      expect(existsSync(other.hostKeyPath)).toBe(false);
      expect((await login({ password: sshd.password })).hostFingerprint).toBe(sshd.hostKeyFingerprint);
    } finally {
      await other.stop();
    }
  });
});

describe('non-SSH hosts', () => {
  it('a silent host never completes the handshake', async () => {
    const silent = await startSilentTcpHost();
    try {
      await expect(connect({ host: '127.0.0.1', port: silent.port, username: 'x', password: 'x', readyTimeout: 1000 })).rejects.toThrow(
        /Timed out while waiting for handshake/,
      );
    } finally {
      await silent.stop();
    }
  });

  it('a closed port refuses connections', async () => {
    const port = await closedPort();
    await expect(connect({ host: '127.0.0.1', port, username: 'x', password: 'x' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
