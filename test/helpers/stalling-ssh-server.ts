import { AddressInfo } from 'node:net';
import { Connection, Server, ServerChannel } from 'ssh2';
import { generateHostKey } from './ssh-host-key';

/**
 * Where the server stops answering: `auth` never answers the authentication request; `channel-open` authenticates
 * but never answers a channel open until `grant()` is called. Everything it grants runs nothing and stays open.
 */
export type StallPhase = 'auth' | 'channel-open';

export interface StallingSshServer {
  readonly port: number;
  /** Channel opens received and not answered yet. */
  heldOpens(): number;
  /** Resolves once `count` channel opens are being held (each call waits for its own count). */
  opensHeld(count: number): Promise<void>;
  /** Grants the oldest held channel open (and the pty and exec or shell requests that follow it). */
  grant(): void;
  /** Resolves when a channel this server granted has been closed by the client. */
  channelClosed(): Promise<void>;
  /** TCP connections open now. */
  connections(): number;
  stop(): Promise<void>;
}

/** An SSH server written with ssh2's `Server`, for faults a real sshd cannot be made to show on demand. */
export async function startStallingSshServer(stallAt: StallPhase): Promise<StallingSshServer> {
  const hostKey = generateHostKey();
  const held: Array<() => void> = [];
  const heldWaiters: Array<{ count: number; resolve: () => void }> = [];
  const closeWaiters: Array<() => void> = [];
  let pendingCloses = 0;
  const clients = new Set<Connection>();

  const noteHeld = () => {
    for (const waiter of [...heldWaiters]) {
      if (held.length < waiter.count) continue;
      heldWaiters.splice(heldWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const noteClosed = () => {
    const waiter = closeWaiters.shift();
    if (waiter) waiter();
    else pendingCloses++;
  };

  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (context) => {
      if (stallAt !== 'auth') context.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        held.push(() => {
          const session = accept();
          // Read (and dropped), since ssh2 emits a channel's close only after its end.
          const keep = (channel: ServerChannel) => channel.once('close', noteClosed).resume();
          session.on('pty', (acceptPty) => acceptPty?.());
          session.on('exec', (acceptExec) => keep(acceptExec()));
          session.on('shell', (acceptShell) => keep(acceptShell()));
        });
        noteHeld();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as AddressInfo).port,
    heldOpens: () => held.length,
    opensHeld: (count) =>
      new Promise<void>((resolve) => {
        heldWaiters.push({ count, resolve });
        noteHeld();
      }),
    grant: () => {
      const next = held.shift();
      if (!next) throw new Error('no channel open is being held');
      next();
    },
    channelClosed: () =>
      new Promise<void>((resolve) => {
        if (pendingCloses > 0) {
          pendingCloses--;
          resolve();
        } else {
          closeWaiters.push(resolve);
        }
      }),
    connections: () => clients.size,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.end();
        server.close(() => resolve());
      }),
  };
}
