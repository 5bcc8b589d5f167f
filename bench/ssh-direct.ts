import { Client, ClientChannel, PseudoTtyOptions } from 'ssh2';
import type { TestSshd } from '../test/helpers/sshd';

/** What a direct reference needs of the test sshd to connect to it; plain data, so it can be handed to a child process. */
export type SshdAddress = Pick<TestSshd, 'host' | 'port' | 'username' | 'privateKey'>;

/** How the direct references say they connect, for the scenarios' descriptions and reports. */
export const DIRECT_NO_DELAY_NOTE = 'TCP_NODELAY, like the pool';

/**
 * Connects `client` straight to `sshd` with the key the backend's servers use (see createSshServer) and, once it is
 * ready, turns Nagle's algorithm off with `setNoDelay(true)`, as the backend's SSH pool does for every connection it
 * adopts: a reference left with ssh2's default would wait for the peer's delayed ACK (~40 ms) where the backend does
 * not, and flatter the backend. Pass a client made beforehand to be able to end it whatever happens.
 */
export function connectNoDelay(sshd: SshdAddress, client = new Client()): Promise<Client> {
  return new Promise((resolve, reject) => {
    // `on`, not `once`: ssh2 may emit a second error while tearing down, which must not crash the bench.
    client.on('error', reject);
    client.once('ready', () => {
      client.setNoDelay(true);
      resolve(client);
    });
    client.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
  });
}

export interface DirectExecResult {
  /** Standard output (under a pty, standard error too), decoded as UTF-8. */
  output: string;
  /** Exit status; null when the command was ended by a signal or reported none. */
  code: number | null;
}

/** Times a channel open the server refused is tried again: see execDirect. */
const OPEN_RETRIES = 5;

/**
 * Runs `command` on a new exec channel of `client`; resolves once the channel closes, as the backend's executor waits
 * for it. OpenSSH frees a closed channel's session (MaxSessions) a moment after the close, so a connection kept full
 * may see an open refused right after one of its channels closed: such an open is tried again, up to OPEN_RETRIES
 * times (the backend's pool answers the same refusal by trying again too, see SshPool.openChannel).
 */
export async function execDirect(client: Client, command: string, pty: PseudoTtyOptions | boolean): Promise<DirectExecResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await execOnce(client, command, pty);
    } catch (error) {
      if (attempt >= OPEN_RETRIES || !(error instanceof Error) || !/open failed/i.test(error.message)) throw error;
    }
  }
}

function execOnce(client: Client, command: string, pty: PseudoTtyOptions | boolean): Promise<DirectExecResult> {
  return new Promise((resolve, reject) => {
    const started = (error: Error | undefined, channel: ClientChannel) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      let code: number | null = null;
      channel.on('data', (chunk: Buffer) => chunks.push(chunk));
      channel.stderr.resume();
      channel.once('exit', (status: number | null) => (code = status));
      channel.once('close', () => resolve({ output: Buffer.concat(chunks).toString('utf8'), code }));
    };
    if (pty) client.exec(command, { pty }, started);
    else client.exec(command, started);
  });
}
