import { once } from 'node:events';
import { AddressInfo } from 'node:net';
import { Connection, Server, ServerChannel } from 'ssh2';
import { generateHostKey } from '../../test/helpers/ssh-host-key';
import { until } from '../../test/helpers/wait';
import { SshConfig } from '../config/configuration';
import { HostKeyStore } from './host-key.store';
import { SshPool } from './ssh-pool.service';
import { SshError, SshTarget } from './ssh-target';

/** Trust on first use, in memory. */
class MemoryHostKeys extends HostKeyStore {
  readonly pinned = new Map<number, string>();

  pinIfUnset(serverId: number, fingerprint: string): Promise<void> {
    if (!this.pinned.has(serverId)) this.pinned.set(serverId, fingerprint);
    return Promise.resolve();
  }
}

/**
 * An in-process SSH server on loopback. Every exec runs until the test finishes it (`finish(command)`) or the client
 * closes it; session opens can be refused beyond `maxSessions` per connection (OpenSSH's MaxSessions), refused
 * always, or held unanswered until `grant()`.
 */
interface FakeSshd {
  readonly port: number;
  maxSessions: number;
  refuseSessions: boolean;
  /** Commands whose exec request the server refuses (the session channel itself opens). */
  refusedCommands: Set<string>;
  holdOpens: boolean;
  /** SSH connections open now. */
  connections(): number;
  /** Session opens refused so far. */
  refused(): number;
  /** Session opens held unanswered now. */
  held(): number;
  /** Answers the oldest held session open. */
  grant(): void;
  /** Exec channels the client has closed or that were finished, so far. */
  closedExecs(): number;
  /** Makes the command's exec exit with `code`, after writing `output` to stdout and stderr, and close. */
  finish(command: string, code?: number, output?: string): void;
  /** Ends the command's output (EOF) while its channel stays open, like a command that closed its stdout and runs on. */
  endOutput(command: string): void;
  stop(): Promise<void>;
}

const hostKey = generateHostKey();

async function startSshd(): Promise<FakeSshd> {
  const clients = new Set<Connection>();
  const running = new Map<string, ServerChannel>();
  const held: Array<() => void> = [];
  let refused = 0;
  let closedExecs = 0;

  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (context) =>
      context.method === 'password' && context.password === 'secret' ? context.accept() : context.reject(['password']),
    );
    let sessions = 0;
    client.on('session', (accept, reject) => {
      if (sshd.refuseSessions || sessions >= sshd.maxSessions) {
        refused++;
        return reject();
      }
      sessions++;
      const answer = () => {
        const session = accept();
        session.once('close', () => sessions--);
        session.on('exec', (acceptExec, rejectExec, info) => {
          if (sshd.refusedCommands.has(info.command)) return rejectExec();
          const channel = acceptExec();
          running.set(info.command, channel);
          // Read (and dropped): ssh2 emits a channel's close only after its end.
          channel.resume();
          channel.once('close', () => {
            closedExecs++;
            if (running.get(info.command) === channel) running.delete(info.command);
          });
        });
      };
      if (sshd.holdOpens) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const execOf = (command: string) => {
    const channel = running.get(command);
    if (!channel) throw new Error(`no exec of ${command} is running`);
    return channel;
  };

  const sshd: FakeSshd = {
    port: (server.address() as AddressInfo).port,
    maxSessions: Infinity,
    refuseSessions: false,
    refusedCommands: new Set(),
    holdOpens: false,
    connections: () => clients.size,
    refused: () => refused,
    held: () => held.length,
    grant: () => held.shift()!(),
    closedExecs: () => closedExecs,
    finish: (command, code = 0, output) => {
      const channel = execOf(command);
      if (output) {
        channel.write(output);
        channel.stderr.write(output);
      }
      channel.exit(code);
      channel.end();
    },
    endOutput: (command) => {
      const channel = execOf(command);
      channel.stderr.end();
      channel.eof();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.end();
        server.close(() => resolve());
      }),
  };
  return sshd;
}

const SERVER_ID = 1;

describe('SshPool channel accounting', () => {
  let sshd: FakeSshd;
  let pool: SshPool;
  let hostKeys: MemoryHostKeys;

  const target = (serverId = SERVER_ID): SshTarget => ({
    serverId,
    host: '127.0.0.1',
    port: sshd.port,
    username: 'tester',
    password: 'secret',
    hostKeyFingerprint: null,
  });

  function startPool(overrides: Partial<SshConfig> = {}): SshPool {
    const config: SshConfig = {
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      keepaliveIntervalMs: 0,
      maxChannelsPerConnection: 3,
      channelOpenTimeoutMs: 10_000,
      maxConnectionsPerServer: 8,
      maxOutputBytes: 1_000_000,
      ...overrides,
    };
    pool = new SshPool(config, hostKeys);
    return pool;
  }

  /** Runs `command` until the test finishes it; its output is read, as SshExecutor does. */
  async function run(command: string, serverId = SERVER_ID) {
    const opened = await pool.openExec(target(serverId), command, false);
    opened.channel.resume();
    opened.channel.stderr.resume();
    return opened;
  }

  const handshakes = () => pool.stats(SERVER_ID).handshakes;

  beforeEach(async () => {
    sshd = await startSshd();
    hostKeys = new MemoryHostKeys();
  });

  afterEach(async () => {
    pool?.onApplicationShutdown();
    await sshd.stop();
  });

  it('shares one connection among maxChannelsPerConnection channels and opens a second one for the next', async () => {
    startPool({ maxChannelsPerConnection: 3 });
    const first = await run('job-1');
    expect(first.reusedConnection).toBe(false);
    expect((await run('job-2')).reusedConnection).toBe(true);
    expect((await run('job-3')).reusedConnection).toBe(true);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 3, retired_connections: 0 });
    expect(handshakes()).toBe(1);
    expect(hostKeys.pinned.get(SERVER_ID)).toMatch(/^SHA256:/);

    await run('job-4');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 4, retired_connections: 0 });
    expect(handshakes()).toBe(2);
    expect(sshd.connections()).toBe(2);
  });

  it('makes concurrent opens on an empty pool wait for the handshakes they need, no more', async () => {
    startPool({ maxChannelsPerConnection: 3 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((command) => run(command)));
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 5, retired_connections: 0 });
    expect(handshakes()).toBe(2);
    expect(sshd.connections()).toBe(2);
  });

  it('gives a slot back when a command ends, and the next channel takes it on the same connection', async () => {
    startPool({ maxChannelsPerConnection: 2 });
    const first = await run('job-1');
    await run('job-2');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 2, retired_connections: 0 });

    const closed = once(first.channel, 'close');
    sshd.finish('job-1', 3);
    await closed;
    expect(first.exit.code).toBe(3);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });

    expect((await run('job-3')).reusedConnection).toBe(true);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 2, retired_connections: 0 });
    expect(handshakes()).toBe(1);

    // The freed slot was the only one: the connection is full again.
    await run('job-4');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 3, retired_connections: 0 });
  });

  it('frees the slot of a released channel whose command failed and whose output was never read', async () => {
    startPool({ maxChannelsPerConnection: 2 });
    // Not `run`: nobody reads this channel's output.
    const failed = await pool.openExec(target(), 'fails', false);
    await run('job-2');

    const exited = once(failed.channel, 'exit');
    sshd.finish('fails', 1, 'error output\n'.repeat(1000));
    await exited;
    // Ended on the server, but ssh2 emits close only after the unread output: the slot is still taken.
    expect(pool.state(SERVER_ID).open_channels).toBe(2);

    const closed = once(failed.channel, 'close');
    pool.release(failed.channel);
    await closed;
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
    expect((await run('job-3')).reusedConnection).toBe(true);
    expect(handshakes()).toBe(1);
  });

  it('keeps counting a channel whose output has ended until the channel itself closes', async () => {
    startPool({ maxChannelsPerConnection: 2 });
    const first = await run('job-1');
    await run('job-2');
    const ended = once(first.channel, 'end');
    sshd.endOutput('job-1');
    await ended;
    expect(pool.state(SERVER_ID).open_channels).toBe(2);

    const closed = once(first.channel, 'close');
    sshd.finish('job-1');
    await closed;
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
  });

  it('gives a slot back once, however often its channel is released', async () => {
    startPool({ maxChannelsPerConnection: 3 });
    const first = await run('job-1');
    await run('job-2');
    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    pool.release(first.channel);
    await closed;
    pool.release(first.channel);
    await until(() => sshd.closedExecs() === 1, 'the server to see the released channel closed');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
  });

  it('keeps a connection whose channels all came back for reuse, and closes it after the idle timeout', async () => {
    startPool({ idleTimeoutMs: 200 });
    const first = await run('job-1');
    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    await closed;
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 0, retired_connections: 0 });

    const second = await run('job-2');
    expect(second.reusedConnection).toBe(true);
    expect(handshakes()).toBe(1);
    const secondClosed = once(second.channel, 'close');
    pool.release(second.channel);
    await secondClosed;

    await until(() => pool.state(SERVER_ID).connections === 0, 'the idle connection to be closed');
    await until(() => sshd.connections() === 0, 'the server to see the idle connection closed');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 0, open_channels: 0, retired_connections: 0 });

    expect((await run('job-3')).reusedConnection).toBe(false);
    expect(handshakes()).toBe(2);
  });

  it('stops the idle countdown when a channel is taken again, and starts none while a channel is open', async () => {
    startPool({ idleTimeoutMs: 200 });
    const first = await run('job-1');
    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    await closed;
    // The countdown has started; this channel must stop it.
    await run('job-2');
    // Not the last channel back: no countdown.
    const third = await run('job-3');
    const thirdClosed = once(third.channel, 'close');
    pool.release(third.channel);
    await thirdClosed;

    // A witness: another server's connection, idle from later on, under the same timeout.
    const witness = await run('witness', 2);
    const witnessClosed = once(witness.channel, 'close');
    pool.release(witness.channel);
    await witnessClosed;
    await until(() => pool.state(2).connections === 0, 'the witness connection to close on idle');

    // An idle close marks the connection closed at once, so this would show it.
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
  });

  it('refuses a channel beyond maxConnectionsPerServer full connections without counting it', async () => {
    startPool({ maxChannelsPerConnection: 1, maxConnectionsPerServer: 2 });
    const first = await run('job-1');
    await run('job-2');
    await expect(pool.openExec(target(), 'job-3', false)).rejects.toMatchObject({ kind: 'channel', message: expect.stringMatching(/busy/) });
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 2, retired_connections: 0 });
    expect(sshd.connections()).toBe(2);

    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    await closed;
    expect((await run('job-3')).reusedConnection).toBe(true);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 2, retired_connections: 0 });
    expect(handshakes()).toBe(2);
  });

  it('lowers the channel limit of a connection to what the server allows, and keeps it lowered', async () => {
    sshd.maxSessions = 2;
    startPool({ maxChannelsPerConnection: 3 });
    const first = await run('job-1');
    await run('job-2');
    // Refused on the first connection (the server's MaxSessions is 2): goes to a second one.
    await run('job-3');
    expect(sshd.refused()).toBe(1);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 3, retired_connections: 0 });
    expect(handshakes()).toBe(2);

    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    await closed;
    expect(pool.state(SERVER_ID).open_channels).toBe(2);
    // The freed slot on the first connection, then the second connection (the first is full at its lowered limit).
    await run('job-4');
    await run('job-5');
    expect(sshd.refused()).toBe(1);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 4, retired_connections: 0 });
    expect(handshakes()).toBe(2);
  });

  it('fails a refused exec at once, keeping the connection and the channels running on it', async () => {
    startPool();
    const running = await run('sleep 60');
    sshd.refusedCommands.add('forbidden');
    await expect(pool.openExec(target(), 'forbidden', false)).rejects.toThrow(/refused the request: Unable to exec/);
    expect(handshakes()).toBe(1);
    expect(sshd.connections()).toBe(1);
    await until(() => pool.state(SERVER_ID).open_channels === 1, 'the refused channel to be given back');
    // The running command's channel is untouched, and the connection takes the next command.
    expect(running.channel.destroyed).toBe(false);
    await run('echo next');
    expect(handshakes()).toBe(1);
  });

  it('fails after three refused channel opens, with no slot left counted', async () => {
    sshd.refuseSessions = true;
    startPool({ idleTimeoutMs: 200 });
    const error: unknown = await pool.openExec(target(), 'job-1', false).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SshError);
    expect(error).toMatchObject({ kind: 'channel', message: expect.stringMatching(/Channel open failure/) });
    expect(sshd.refused()).toBe(3);
    expect(handshakes()).toBe(3);
    // The first two connections are closed at once; the last one is kept, empty, until it has been idle long enough.
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 0, retired_connections: 0 });
    await until(() => pool.state(SERVER_ID).connections === 0, 'the last connection to close on idle');
    await until(() => sshd.connections() === 0, 'the server to see the refused connections closed');
  });

  it('retires a connection whose server sits on a channel open, and closes it once its last channel is back', async () => {
    startPool({ maxChannelsPerConnection: 3, channelOpenTimeoutMs: 500 });
    const first = await run('job-1');

    sshd.holdOpens = true;
    await expect(pool.openExec(target(), 'stalled', false)).rejects.toMatchObject({ kind: 'timeout' });
    expect(sshd.held()).toBe(1);
    // The stalled open's slot is back; the connection keeps its one live channel but takes no new ones.
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 1 });

    // Granted too late: the pool closes that channel at once, and it does not count (nor is it given back twice).
    sshd.holdOpens = false;
    sshd.grant();
    await until(() => sshd.closedExecs() === 1, 'the late channel to be closed by the pool');
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 1 });

    // There is room on the retired connection, but the next channel goes to a fresh one.
    await run('job-2');
    expect(handshakes()).toBe(2);
    expect(pool.state(SERVER_ID)).toEqual({ connections: 2, open_channels: 2, retired_connections: 1 });

    const closed = once(first.channel, 'close');
    pool.release(first.channel);
    await closed;
    expect(pool.state(SERVER_ID)).toEqual({ connections: 1, open_channels: 1, retired_connections: 0 });
    await until(() => sshd.connections() === 1, 'the server to see the retired connection closed');
  });
});
