import { Socket } from 'node:net';

/**
 * Whether an SSH server answers on host:port: connects and waits for the `SSH-` banner that every SSH
 * server sends first. A port that accepts but never speaks counts as offline.
 */
export function probeSshBanner(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let received = '';
    const finish = (online: boolean) => {
      socket.destroy();
      resolve(online);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.startsWith('SSH-')) finish(true);
      else if (received.length >= 4 || received.includes('\n')) finish(false);
    });
    socket.connect(port, host);
  });
}
