import { readFileSync } from 'node:fs';
import { io, Socket } from 'socket.io-client';
import { Client, ClientChannel } from 'ssh2';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, percentile } from '../api';
import { startBackend } from '../backend';
import { Scenario } from '../scenario';
import { renderTable } from '../table';

const KEYSTROKES = 300;
const FLOOD_BYTES = 20_000_000;
const IDLE_TERMINALS = 200;

/** Something that takes keystrokes and gives output: the gateway or a direct ssh2 shell. */
interface Terminal {
  send(text: string): void;
  onOutput(listener: (text: string) => void): void;
}

export const terminal: Scenario = {
  name: 'terminal',
  description: 'keystroke echo latency and output throughput through the Socket.IO gateway vs a direct ssh2 shell; 200 idle terminals',
  async run() {
    const sshd = await startSshd({ maxSessions: 64 });
    const backend = await startBackend({ TERMINAL_MAX_PER_SERVER: '500', TERMINAL_MAX_TOTAL: '500' });
    const sockets: Socket[] = [];
    const client = new Client();
    try {
      const serverId = await createSshServer(backend.baseUrl, sshd, 'gpu');
      const openGateway = async (): Promise<Terminal> => {
        const socket = io(backend.baseUrl, { transports: ['websocket'], forceNew: true });
        sockets.push(socket);
        const connected = new Promise<void>((resolve, reject) => {
          socket.once('ssh_connected', () => resolve());
          socket.once('ssh_error', (event: { error: string }) => reject(new Error(event.error)));
        });
        socket.emit('ssh_connect', { server_id: serverId });
        await connected;
        return { send: (text) => socket.emit('ssh_input', { input: text }), onOutput: (listener) => socket.on('ssh_output', (event: { data: string }) => listener(event.data)) };
      };
      const shell = await openDirectShell(client, sshd);
      const direct: Terminal = { send: (text) => shell.write(text), onOutput: (listener) => shell.on('data', (chunk: Buffer) => listener(chunk.toString())) };
      const gateway = await openGateway();

      const rows: string[][] = [];
      for (const [name, target] of [['direct ssh2 shell', direct], ['gateway (Socket.IO)', gateway]] as const) {
        const echoes = await echoLatencies(target);
        const throughput = await floodThroughput(target);
        rows.push([name, percentile(echoes, 50).toFixed(2), percentile(echoes, 95).toFixed(2), throughput.toFixed(1)]);
      }
      const rssBefore = rssMb(backend.pid);
      for (let n = 0; n < IDLE_TERMINALS; n++) await openGateway();
      const rssAfter = rssMb(backend.pid);
      const echoRatio = Number(rows[1][1]) - Number(rows[0][1]);
      return [
        renderTable(['path', 'echo p50 ms', 'echo p95 ms', 'throughput MB/s'], rows),
        `echo p50 gateway − direct: ${echoRatio.toFixed(2)} ms (target <= 1 ms); throughput ratio ${(Number(rows[1][3]) / Number(rows[0][3])).toFixed(2)}x (target >= 0.8x)`,
        `${IDLE_TERMINALS} idle terminals: backend RSS ${rssBefore.toFixed(1)} MB -> ${rssAfter.toFixed(1)} MB (+${((rssAfter - rssBefore) / IDLE_TERMINALS * 1024).toFixed(0)} KB each)`,
      ].join('\n');
    } finally {
      for (const socket of sockets) socket.close();
      client.end();
      await backend.stop();
      await sshd.stop();
    }
  },
};

function openDirectShell(client: Client, sshd: TestSshd): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client
      .once('ready', () => {
        client.setNoDelay(true);
        client.shell({ term: 'xterm-256color', cols: 80, rows: 24 }, (error, channel) => (error ? reject(error) : resolve(channel)));
      })
      .once('error', reject)
      .connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });
  });
}

/** Types single characters into `cat` (raw echo by the pty) and times each echo. */
async function echoLatencies(target: Terminal): Promise<number[]> {
  let output = '';
  let waiter: (() => void) | undefined;
  target.onOutput((text) => {
    output += text;
    waiter?.();
  });
  const waitFor = (needle: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (output.includes(needle)) {
          waiter = undefined;
          resolve();
        }
      };
      waiter = check;
      check();
    });
  target.send('stty -echo; echo READY; stty echo; cat\r');
  await waitFor('READY\r\n');
  const latencies: number[] = [];
  for (let n = 0; n < KEYSTROKES; n++) {
    const key = String.fromCharCode(97 + (n % 26));
    output = '';
    const started = performance.now();
    target.send(key);
    await waitFor(key);
    latencies.push(performance.now() - started);
  }
  target.send('\x03');
  return latencies;
}

/** MB/s of `head -c N /dev/zero | base64` arriving at the client. */
async function floodThroughput(target: Terminal): Promise<number> {
  let received = 0;
  let tail = '';
  let done: (() => void) | undefined;
  target.onOutput((text) => {
    received += text.length;
    // The marker may arrive split across two chunks.
    tail = (tail + text).slice(-64);
    if (tail.includes('FLOOD-2END')) done?.();
  });
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  received = 0;
  target.send(`head -c ${FLOOD_BYTES} /dev/zero | base64; echo FLOOD-$((1+1))END\r`);
  await finished;
  return received / 1e6 / ((performance.now() - started) / 1000);
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}
