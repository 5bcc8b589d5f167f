import { ConsoleLogger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { SshExecutor } from '../src/ssh/ssh-executor.service';
import { SshPool } from '../src/ssh/ssh-pool.service';
import { SshTarget } from '../src/ssh/ssh-target';
import { closedPort, describeSsh, startSilentTcpHost, startSshd, TestSshd } from './helpers/sshd';
import { startTestApp, TestApp } from './helpers/test-app';
import { until } from './helpers/wait';

describeSsh('SSH pool and executor against a real sshd', () => {
  let sshd: TestSshd;
  let t: TestApp;
  let executor: SshExecutor;
  let pool: SshPool;
  let nextServerId = 1000;

  beforeAll(async () => {
    sshd = await startSshd({ maxSessions: 10 });
    t = await startTestApp({ SSH_CONNECT_TIMEOUT_MS: '2000' });
    executor = t.app.get(SshExecutor);
    pool = t.app.get(SshPool);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  /** A fresh pool key per test, so that tests do not share connections. */
  const target = (overrides: Partial<SshTarget> = {}): SshTarget => ({
    serverId: nextServerId++,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    password: sshd.password,
    hostKeyFingerprint: null,
    ...overrides,
  });
  const run = (on: SshTarget, command: string, timeoutMs = 10_000, maxOutputBytes?: number) =>
    executor.exec(on, command, { timeoutMs, maxOutputBytes });

  it('reuses one connection: a second command opens no new handshake', async () => {
    const server = target();
    expect((await run(server, 'echo one')).output).toBe('one\n');
    const before = pool.stats();
    expect((await run(server, 'echo two')).output).toBe('two\n');
    expect(pool.stats().handshakes).toBe(before.handshakes);
    expect(pool.stats(server.serverId).connections).toBe(1);
  });

  it('shares one handshake among concurrent first uses', async () => {
    const server = target();
    const before = pool.stats().handshakes;
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => run(server, `echo ${n}`)));
    expect(results.map((result) => result.output)).toEqual(['1\n', '2\n', '3\n', '4\n', '5\n']);
    expect(pool.stats().handshakes - before).toBe(1);
  });

  it('opens a second connection past the channel limit (MaxSessions 10): 25 concurrent commands all succeed', async () => {
    const server = target();
    const results = await Promise.all(Array.from({ length: 25 }, (_, n) => run(server, `sleep 0.5; echo ${n}`)));
    expect(results.every((result) => result.success)).toBe(true);
    expect(results.map((result) => result.output)).toEqual(Array.from({ length: 25 }, (_, n) => `${n}\n`));
    expect(pool.stats(server.serverId).connections).toBe(3);
  });

  it('adapts to a server whose MaxSessions is below our limit', async () => {
    const strict = await startSshd({ maxSessions: 2 });
    try {
      const server = target({ port: strict.port, password: strict.password });
      const results = await Promise.all(Array.from({ length: 6 }, (_, n) => run(server, `sleep 0.3; echo ${n}`)));
      expect(results.map((result) => [result.success, result.output])).toEqual(Array.from({ length: 6 }, (_, n) => [true, `${n}\n`]));
    } finally {
      await strict.stop();
    }
  });

  it('reports exit statuses and standard error', async () => {
    const server = target();
    expect(await run(server, 'exit 7')).toMatchObject({ success: false, exit_status: 7, timed_out: false });
    const noPty = await executor.exec(server, 'echo out; echo err >&2; exit 1', { timeoutMs: 5000, pty: false });
    expect(noPty).toMatchObject({ success: false, output: 'out\n', error: 'err\n', exit_status: 1 });
  });

  it('decodes UTF-8 split across chunks', async () => {
    const result = await run(target(), `printf '中文字符%.0s' $(seq 1 20000)`);
    expect(result.output).toBe('中文字符'.repeat(20000));
    expect(result.output).not.toContain('\uFFFD');
  });

  it('caps output and says so', async () => {
    const result = await run(target(), `head -c 3000000 /dev/zero | tr '\\0' a`, 20_000, 1024 * 1024);
    expect(result.success).toBe(true);
    expect(result.truncated).toBe(true);
    expect(result.output).toBe('a'.repeat(1024 * 1024));
    expect(result.error).toMatch(/truncated at 1048576 bytes/);
  });

  it('ends a command that runs past its timeout', async () => {
    // A warm connection and a deadline well past a loaded machine's channel open, so the deadline cuts the
    // command short while it runs, not while its channel is still opening.
    const server = target();
    expect((await run(server, 'true')).success).toBe(true);
    const marker = `sleep 31.${process.pid}`;
    const events: string[] = [];
    const started = Date.now();
    const result = await executor.exec(server, marker, { timeoutMs: 2000, onStarted: () => events.push('started') });
    expect(events).toEqual(['started']);
    expect(result).toMatchObject({ success: false, timed_out: true, exit_status: null });
    expect(result.error).toMatch(/timed out after 2 s/);
    // Ended by the deadline, not waited out: the sleep alone would take 31 s.
    expect(Date.now() - started).toBeLessThan(31_000);
    await until(() => !processRunning(marker), 'the remote command to be ended');
  });

  it('says when a command has started, before its first output, and never for one that could not start', async () => {
    const events: string[] = [];
    const options = { timeoutMs: 5000, onStarted: () => events.push('started'), onOutput: (text: string) => events.push(text) };
    expect((await executor.exec(target(), 'echo one', options)).success).toBe(true);
    expect(events.join('')).toBe('startedone\r\n');

    events.length = 0;
    expect((await executor.exec(target({ port: await closedPort() }), 'echo one', options)).success).toBe(false);
    expect(events).toEqual([]);
  });

  it('reconnects after sshd restarts', async () => {
    const server = target();
    expect((await run(server, 'echo before')).output).toBe('before\n');
    await sshd.restart();
    expect((await run(server, 'echo after')).output).toBe('after\n');
  });

  it('gives a clear, bounded error for a refused port, a silent host and bad credentials', async () => {
    const refused = await run(target({ port: await closedPort() }), 'true');
    expect(refused).toMatchObject({ success: false, exit_status: null });
    expect(refused.error).toMatch(/Connection refused by 127\.0\.0\.1:\d+/);

    const silent = await startSilentTcpHost();
    try {
      const started = Date.now();
      const hanging = await run(target({ port: silent.port }), 'true');
      expect(Date.now() - started).toBeLessThan(4000);
      expect(hanging.error).toMatch(/Timed out connecting to 127\.0\.0\.1/);
    } finally {
      await silent.stop();
    }

    const denied = await run(target({ password: 'not-the-password' }), 'true');
    expect(denied.error).toBe(`Authentication failed for ${sshd.username}@127.0.0.1:${sshd.port}`);
  });
});

/** Whether a process running `command` exists here (the test sshd runs on this machine). */
function processRunning(command: string): boolean {
  try {
    execFileSync('pgrep', ['-f', command]);
    return true;
  } catch {
    return false;
  }
}

describeSsh('secrets never reach logs or responses', () => {
  it('keeps password and key out of every log line and response, at debug level', async () => {
    const sshd = await startSshd();
    const lines: string[] = [];
    class CapturingLogger extends ConsoleLogger {
      protected override printMessages(messages: unknown[], context?: string, level?: string): void {
        lines.push(`${level} ${context} ${messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ')}`);
      }
    }
    const t = await startTestApp({ LOG_LEVEL: 'debug' }, new CapturingLogger({ logLevels: ['error', 'warn', 'log', 'debug', 'verbose'] }));
    try {
      const bodies: string[] = [];
      const record = (res: { text: string }) => bodies.push(res.text);
      const created = await t.http
        .post('/api/servers')
        .send({ name: 'gpu', host_ip: sshd.host, port: sshd.port, username: sshd.username, password: sshd.password });
      record(created);
      const keyed = await t.http.post('/api/servers').send({
        name: 'gpu-key',
        host_ip: sshd.host,
        port: sshd.port,
        username: sshd.username,
        auth_type: 'key',
        private_key: sshd.encryptedPrivateKey,
        passphrase: sshd.passphrase,
      });
      record(keyed);
      for (const id of [created.body.id, keyed.body.id]) {
        record(await t.http.get(`/api/servers/${id}`));
        record(await t.http.get(`/api/servers/${id}/resources`));
        record(await t.http.put(`/api/servers/${id}`).send({ password: 'a-new-secret-password' }));
      }
      record(await t.http.get('/api/servers'));
      record(await t.http.post('/api/servers/resources'));
      const secrets = [sshd.password, sshd.passphrase, 'a-new-secret-password', sshd.encryptedPrivateKey.split('\n')[1]];
      expect(lines.some((line) => line.includes('POST /api/servers 201'))).toBe(true);
      for (const secret of secrets) {
        expect(bodies.filter((body) => body.includes(secret))).toEqual([]);
        expect(lines.filter((line) => line.includes(secret))).toEqual([]);
      }
    } finally {
      await t.close();
      await sshd.stop();
    }
  });
});

describeSsh('idle eviction', () => {
  it('closes a pooled connection that has had no channel for SSH_IDLE_TIMEOUT_MS, and reconnects on next use', async () => {
    const sshd = await startSshd();
    const t = await startTestApp({ SSH_IDLE_TIMEOUT_MS: '1000' });
    try {
      const executor = t.app.get(SshExecutor);
      const pool = t.app.get(SshPool);
      const server: SshTarget = {
        serverId: 1,
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        password: sshd.password,
        hostKeyFingerprint: null,
      };
      expect((await executor.exec(server, 'echo warm', { timeoutMs: 5000 })).output).toBe('warm\n');
      expect(pool.stats(1).connections).toBe(1);
      const idleFrom = Date.now();
      await until(() => pool.stats(1).connections === 0, 'the idle connection to be closed');
      // A lower bound only: it was closed for being idle, not at once (load can only make it later).
      expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(900);
      expect((await executor.exec(server, 'echo again', { timeoutMs: 5000 })).output).toBe('again\n');
    } finally {
      await t.close();
      await sshd.stop();
    }
  });
});
