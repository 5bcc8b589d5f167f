import { ChildProcess } from 'node:child_process';
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
