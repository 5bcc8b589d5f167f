import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { createServer, connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { until } from './wait';

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const USER = 'infinitest';
const READY_TIMEOUT_MS = 10_000;
// Every process on this machine shares the one test user, so they share its password too: one kept in a
// root-only file, made by whichever process comes first. A password per process would lock the others out.
const PASSWORD_FILE = join(tmpdir(), 'infinitest.password');
const processPassword = sharedPassword();

function sharedPassword(): string {
  // Written aside, then linked into place: no process can read a half-written file.
  const draft = `${PASSWORD_FILE}.${process.pid}`;
  writeFileSync(draft, randomBytes(18).toString('base64url'), { mode: 0o600 });
  try {
    linkSync(draft, PASSWORD_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  return readFileSync(PASSWORD_FILE, 'utf8').trim();
}

const sshdRequired = process.env.REQUIRE_SSHD === '1';
/**
 * The SSH suites add a system user (`infinitest`) and leave it for the next run (and, with StandInTools, a PATH hook
 * in /etc/profile.d), so they run only where that was asked for: in CI or with REQUIRE_SSHD=1. A plain `npm test` on
 * a developer's machine changes no accounts.
 */
const sshdOptedIn = sshdRequired || process.env.CI === 'true';

/** Real sshd needs root (it switches to the test user), the OpenSSH binaries and the opt-in above. */
export const sshdAvailable: boolean = sshdOptedIn && process.getuid?.() === 0 && existsSync(SSHD) && existsSync(SSH_KEYGEN);

// CI sets REQUIRE_SSHD=1 so SSH suites fail loudly there instead of being skipped.
if (!sshdAvailable && sshdRequired) {
  throw new Error(`REQUIRE_SSHD=1 but a real sshd cannot be started: need to run as root with ${SSHD} and ${SSH_KEYGEN} installed`);
}

/**
 * `describe` for suites that need a real sshd; reported as skipped where it cannot run (see sshdAvailable). Picked at
 * call time: the bench imports this module outside jest, where `describe` does not exist.
 */
export function describeSsh(name: string, suite: () => void): void {
  (sshdAvailable ? describe : describe.skip)(name, suite);
}

export interface TestSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** OpenSSH-format ed25519 private key authorised for `username`. */
  readonly privateKey: string;
  /** A second authorised key, encrypted with `passphrase`. */
  readonly encryptedPrivateKey: string;
  readonly passphrase: string;
  readonly hostKeyPath: string;
  /** 'SHA256:<base64 without padding>', as OpenSSH prints it; updated by restart({ newHostKey: true }). */
  hostKeyFingerprint: string;
  /** Kills the listener and every per-connection child, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Kills everything (open sessions included) and starts again on the same port. */
  restart(options?: { newHostKey?: boolean }): Promise<void>;
  /** Live sshd processes of this instance: the listener first, then per-connection children. A snapshot. */
  sshdPids(): number[];
}

export interface SshdOptions {
  maxSessions?: number;
  hostKey?: string;
  /** sshd_config lines added to the defaults, for keywords they leave unset (e.g. `AcceptEnv LANG LC_*`). */
  extraConfig?: string[];
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  if (!sshdAvailable) throw new Error(`Cannot start sshd: need root and ${SSHD}; guard the suite with sshdAvailable`);
  await ensureUser();

  const dir = mkdtempSync(join(tmpdir(), 'infini-sshd-'));
  // sshd opens AuthorizedKeysFile as the test user, so the dir must be traversable and the file readable.
  chmodSync(dir, 0o755);
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  const configPath = join(dir, 'sshd_config');
  const pidFile = join(dir, 'sshd.pid');
  const passphrase = randomBytes(12).toString('base64url');
  try {
    if (options.hostKey) {
      copyFileSync(options.hostKey, hostKeyPath);
      chmodSync(hostKeyPath, 0o600);
    } else {
      await keygen(hostKeyPath, '');
    }
    const [privateKey, encryptedPrivateKey] = await Promise.all([keygen(join(dir, 'id_plain'), ''), keygen(join(dir, 'id_encrypted'), passphrase)]);
    const publicKeys = ['id_plain.pub', 'id_encrypted.pub'].map((name) => readFileSync(join(dir, name), 'utf8'));
    writeFileSync(join(dir, 'authorized_keys'), publicKeys.join(''), { mode: 0o644 });
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    let port = 0;
    let listener: ChildProcess | undefined;
    for (let attempt = 1; !listener; attempt++) {
      port = await closedPort();
      writeFileSync(
        configPath,
        sshdConfig({ dir, port, hostKeyPath, pidFile, maxSessions: options.maxSessions ?? 10, extraConfig: options.extraConfig ?? [] }),
      );
      try {
        listener = await spawnSshd(configPath, pidFile, port);
      } catch (error) {
        // Another process may grab the probed port before sshd binds it.
        if (!(error instanceof PortInUseError) || attempt === 5) throw error;
      }
    }

    let stopping: Promise<void> | undefined;
    const sshd: TestSshd = {
      host: '127.0.0.1',
      port,
      username: USER,
      password: processPassword,
      privateKey,
      encryptedPrivateKey,
      passphrase,
      hostKeyPath,
      hostKeyFingerprint: await fingerprintOf(hostKeyPath),
      sshdPids: () => (listener ? sshdTree(listener.pid!) : []),
      stop() {
        stopping ??= (async () => {
          if (listener) await killTree(listener);
          listener = undefined;
          rmSync(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
      async restart(restartOptions = {}) {
        if (stopping || !listener) throw new Error('restart() after stop()');
        await killTree(listener);
        listener = undefined;
        if (restartOptions.newHostKey) {
          rmSync(hostKeyPath);
          await keygen(hostKeyPath, '');
          sshd.hostKeyFingerprint = await fingerprintOf(hostKeyPath);
        }
        listener = await spawnSshd(configPath, pidFile, port);
      },
    };
    return sshd;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A host that accepts TCP connections but never sends a byte, i.e. hangs during the SSH handshake. */
export async function startSilentTcpHost(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    // Clients that give up reset the connection; that is expected, not a test failure.
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 with nothing listening (the kernel picked it free, then we released it). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function ensureUser(): Promise<void> {
  const exists = await run('id', ['-u', USER]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    // Exit code 9: a parallel worker created it first.
    await run('useradd', ['-m', '-s', '/bin/bash', USER]).catch((error: RunError) => {
      if (error.code !== 9) throw error;
    });
  }
  await run('chpasswd', [], `${USER}:${processPassword}\n`);
}

/** Like upstream OpenSSH's defaults, this accepts no env from clients (no AcceptEnv) unless `extraConfig` says so. */
function sshdConfig(c: { dir: string; port: number; hostKeyPath: string; pidFile: string; maxSessions: number; extraConfig: string[] }): string {
  return [
    `Port ${c.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${c.hostKeyPath}`,
    `PidFile ${c.pidFile}`,
    `AuthorizedKeysFile ${join(c.dir, 'authorized_keys')}`,
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin no',
    `MaxSessions ${c.maxSessions}`,
    'MaxStartups 200:30:400',
    'LogLevel ERROR',
    `AllowUsers ${USER}`,
    'Subsystem sftp internal-sftp',
    'PrintMotd no',
    'ClientAliveInterval 0',
    'UseDNS no',
    ...c.extraConfig,
    '',
  ].join('\n');
}

class PortInUseError extends Error {}

/** Starts sshd and resolves once it serves an SSH banner on `port`. */
async function spawnSshd(configPath: string, pidFile: string, port: number): Promise<ChildProcess> {
  rmSync(pidFile, { force: true });
  const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => {
      const message = `sshd exited early (code ${code}, signal ${signal}): ${stderr.trim()}`;
      reject(stderr.includes('Address already in use') ? new PortInUseError(message) : new Error(message));
    }),
  );
  exited.catch(() => undefined); // Only observed while starting; a later exit is stop()'s business.
  const stopWatching = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error(`sshd not ready on port ${port} within ${READY_TIMEOUT_MS} ms; stderr: ${stderr.trim()}`));
    timer = setTimeout(fail, READY_TIMEOUT_MS);
  });
  try {
    // sshd writes PidFile right after binding its listen socket; the banner then proves it serves SSH.
    await Promise.race([fileCreated(pidFile, stopWatching.signal), exited, timeout]);
    const banner = await Promise.race([readBanner(port), exited, timeout]);
    if (!banner.startsWith('SSH-2.0-')) throw new Error(`Unexpected banner from sshd on port ${port}: ${banner}`);
    // Keeps the probe's per-connection child out of the caller's first sshdPids().
    await until(() => liveTree(child.pid!).length === 1, 'the readiness probe connection to end', READY_TIMEOUT_MS);
    return child;
  } catch (error) {
    await killTree(child);
    throw error;
  } finally {
    stopWatching.abort();
    clearTimeout(timer);
  }
}

function fileCreated(path: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dirname(path), { signal }, () => check());
    watcher.on('error', (error) => {
      watcher.close();
      reject(error);
    });
    const check = () => {
      if (!existsSync(path)) return;
      watcher.close();
      resolve();
    };
    check(); // It may have appeared before the watcher was armed.
  });
}

/** Reads the server's identification line and hangs up. */
function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\n')) socket.end();
    });
    socket.on('close', () => resolve(received.split(/\r?\n/)[0]));
  });
}

interface ProcInfo {
  ppid: number;
  comm: string;
  state: string;
}

function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Exited while we were listing.
    }
    // comm may contain spaces and parentheses; it ends at the last ')'.
    const commEnd = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(commEnd + 2).split(' ');
    table.set(Number(entry), { comm: stat.slice(stat.indexOf('(') + 1, commEnd), state, ppid: Number(ppid) });
  }
  return table;
}

/** The root and its live descendants. Zombies count as gone: PID 1 of some containers never reaps orphans. */
function liveTree(root: number, table = processTable()): number[] {
  const tree = [root].filter((pid) => isLive(table.get(pid)));
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, info] of table) if (info.ppid === tree[i] && isLive(info)) tree.push(pid);
  }
  return tree;
}

function isLive(info: ProcInfo | undefined): info is ProcInfo {
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

function sshdTree(root: number): number[] {
  const table = processTable();
  return liveTree(root, table).filter((pid) => table.get(pid)!.comm === 'sshd');
}

/**
 * Per-connection sshd children call setsid(), so neither a process-group kill nor killing the
 * listener reaches them. Freeze the whole tree top-down first (a stopped process can neither fork
 * nor orphan its children), then SIGKILL it and wait until every member is gone.
 */
async function killTree(listener: ChildProcess): Promise<void> {
  const root = listener.pid!;
  const listenerExited =
    listener.exitCode !== null || listener.signalCode !== null ? Promise.resolve() : new Promise((resolve) => listener.once('exit', resolve));
  const frozen = new Set<number>();
  for (let fresh = liveTree(root); fresh.length > 0; fresh = liveTree(root).filter((pid) => !frozen.has(pid))) {
    for (const pid of fresh) {
      sendSignal(pid, 'SIGSTOP');
      frozen.add(pid);
    }
  }
  for (const pid of frozen) sendSignal(pid, 'SIGKILL');
  await listenerExited;
  // Only the listener is our child; the others can only be watched in /proc.
  await until(() => ![...frozen].some((pid) => isLive(processTable().get(pid))), `sshd processes ${[...frozen].join(', ')} to die`, READY_TIMEOUT_MS);
}

function sendSignal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Writes an ed25519 key pair to `path`(.pub) and returns the OpenSSH-format private key. */
async function keygen(path: string, passphrase: string): Promise<string> {
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'infinistudio-test', '-f', path]);
  return readFileSync(path, 'utf8');
}

/** SHA256 of the public key blob, formatted like `ssh-keygen -l`; derived with -y so a reused key needs no .pub. */
async function fingerprintOf(hostKeyPath: string): Promise<string> {
  const [, blob] = (await run(SSH_KEYGEN, ['-y', '-f', hostKeyPath])).trim().split(/\s+/);
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

interface RunError extends Error {
  code: number | null;
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(stdout);
      reject(Object.assign(new Error(`${command} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`), { code }));
    });
    child.stdin.end(input);
  });
}
