import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const STOP_GRACE_MS = 5_000;

/** Ends a child process: SIGTERM first so it can close its database, SIGKILL if it lingers. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** What a child process started: its servers' URLs, and how many requests they have had between them. */
export interface ChildServers {
  urls: string[];
  requestCount(): number;
}

/**
 * Plain JS for the child, which has no TypeScript loader of its own: it registers ts-node, starts `entry` of `module`,
 * sends the URLs, then answers every message with the number of requests its servers have had. It exits when the
 * bench goes away (the IPC channel closes), even when the bench was killed before it could stop it.
 */
const CHILD_SOURCE = `
  const { entry, options, tsNode, module } = JSON.parse(process.env.BENCH_CHILD);
  process.on('disconnect', () => process.exit(0));
  require(tsNode).register({ transpileOnly: true });
  require(module)[entry](options).then((servers) => {
    process.on('message', () => process.send(servers.requestCount()));
    process.send(servers.urls);
  });
`;

export interface InChild {
  urls: string[];
  /** Requests its servers have received so far. */
  requests: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * Starts `entry`, a function exported by `module` that resolves to ChildServers, in a process of its own, as a model
 * server or a proxy runs on a machine: not in a worker thread of the bench, whose process the client's thread shares.
 */
export async function startInChild(module: string, entry: string, options: unknown): Promise<InChild> {
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE], {
    env: { ...process.env, BENCH_CHILD: JSON.stringify({ entry, options, tsNode: require.resolve('ts-node'), module }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    // Rejects if the child fails to start (an 'error' event); an early exit leaves no message, so race it.
    const [urls] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => Promise.reject(new Error(`bench child ${entry} exited with ${String(code)}`))),
    ])) as [string[]];
    // Asked one at a time (the bench awaits each), so the next message is the answer.
    const requests = async () => {
      const answer = once(child, 'message') as Promise<[number]>;
      child.send('requests');
      return (await answer)[0];
    };
    return { urls, requests, stop: () => killChild(child) };
  } catch (error) {
    await killChild(child);
    throw error;
  }
}
