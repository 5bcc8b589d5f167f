import { io, Socket } from 'socket.io-client';
import { Client, ClientChannel } from 'ssh2';
import { startSshd, TestSshd } from '../../test/helpers/sshd';
import { createSshServer, median, memoryOf, percentile } from '../api';
import { startBackend } from '../backend';
import { Scenario, ScenarioResult, Verdict } from '../scenario';
import { connectNoDelay, DIRECT_NO_DELAY_NOTE } from '../ssh-direct';
import { targetNote } from '../summary';
import { renderTable } from '../table';

const KEYSTROKES = 300;
/** Unmeasured keystrokes first: both paths warm up (JIT, TCP windows) before timing starts. */
const WARMUP_KEYSTROKES = 20;
const FLOOD_BYTES = 20_000_000;
const FLOOD_ROUNDS = 3;
const IDLE_TERMINALS = 200;
/** Opened this many at a time, as a room full of operators would, not all in one burst. */
const OPEN_CONCURRENCY = 10;
/** Every wait in this scenario ends: a stalled path fails the scenario with the phase's name. */
const STEP_TIMEOUT_MS = 30_000;
const FLOOD_TIMEOUT_MS = 180_000;
/** Printed by `printf 'FLOOD-%s' END` after the flood: the echoed command line never contains it. */
const FLOOD_MARKER = 'FLOOD-END';
// Issue #19: the gateway's keystroke echo and output throughput against the direct shell's.
const TARGET_MAX_ECHO_GAP_MS = 1;
const TARGET_MIN_THROUGHPUT_RATIO = 0.8;

/** Keystrokes in, output out: the gateway's socket or a direct ssh2 shell, read the same way. */
interface Terminal {
  send(text: string): void;
  /** Everything received since the last call. */
  take(): string;
  /** Resolves once the output received since the last `take()` satisfies `done`. */
  until(what: string, done: (received: string) => boolean, timeoutMs?: number): Promise<void>;
  /** Bytes (UTF-8 characters here: base64 and ASCII) received in total. */
  received(): number;
}

export const terminal: Scenario = {
  name: 'terminal',
  description:
    `keystroke echo latency and output throughput through the Socket.IO gateway vs a direct ssh2 shell on an open ` +
    `connection (${DIRECT_NO_DELAY_NOTE}); ${IDLE_TERMINALS} idle terminals`,
  async run() {
    const sshd = await startSshd();
    const limit = IDLE_TERMINALS + 10;
    // Every terminal holds a channel: enough connections for them all at the default SSH_MAX_CHANNELS (10), plus one.
    const backend = await startBackend({
      TERMINAL_MAX_PER_SERVER: String(limit),
      TERMINAL_MAX_TOTAL: String(limit),
      SSH_MAX_CONNECTIONS_PER_SERVER: String(Math.ceil(limit / 10) + 1),
    });
    const sockets: Socket[] = [];
    const client = new Client();
    try {
      const serverId = await createSshServer(backend.baseUrl, sshd, 'gpu-1');
      const openGateway = async (): Promise<Terminal> => {
        const socket = io(backend.baseUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
        sockets.push(socket);
        const output = new OutputBuffer((text) => socket.emit('ssh_input', { input: text }));
        socket.on('ssh_output', (event: { data: string }) => output.push(event.data));
        await withTimeout(
          'the gateway to open a terminal',
          new Promise<void>((resolve, reject) => {
            socket.once('ssh_connected', () => resolve());
            socket.once('ssh_error', (event: { error: string }) => reject(new Error(event.error)));
            socket.once('connect_error', reject);
            socket.emit('ssh_connect', { server_id: serverId });
          }),
        );
        return output;
      };

      const direct = await openDirectShell(client, sshd);
      const gateway = await openGateway();
      const directEcho = await echoLatencies(direct);
      const gatewayEcho = await echoLatencies(gateway);
      // Alternating rounds, medians: a burst of load on this shared machine hits both paths alike.
      const directRates: number[] = [];
      const gatewayRates: number[] = [];
      for (let round = 0; round < FLOOD_ROUNDS; round++) {
        directRates.push(await floodThroughput(direct));
        gatewayRates.push(await floodThroughput(gateway));
      }
      const [directRate, gatewayRate] = [median(directRates), median(gatewayRates)];

      const rssBefore = (await memoryOf(backend.pid)).rssMb;
      const openMs = await openIdleTerminals(openGateway);
      const rssAfter = (await memoryOf(backend.pid)).rssMb;
      // The idle terminals still answer: the last one opened echoes a key.
      await echoLatencies(await openGateway(), 1);

      return report({ directEcho, gatewayEcho, directRate, gatewayRate, rssBefore, rssAfter, openMs });
    } finally {
      for (const socket of sockets) socket.close();
      client.end();
      await backend.stop();
      await sshd.stop();
    }
  },
};

/** Output as it arrives, with waits that end: resolves a waiter when its condition holds, rejects on timeout. */
class OutputBuffer implements Terminal {
  private pending = '';
  private total = 0;
  private waiter?: () => void;

  constructor(readonly send: (text: string) => void) {}

  push(text: string): void {
    this.pending += text;
    this.total += text.length;
    this.waiter?.();
  }

  take(): string {
    const taken = this.pending;
    this.pending = '';
    return taken;
  }

  received(): number {
    return this.total;
  }

  until(what: string, done: (received: string) => boolean, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    return withTimeout(
      what,
      new Promise<void>((resolve) => {
        this.waiter = () => {
          if (!done(this.pending)) return;
          this.waiter = undefined;
          resolve();
        };
        this.waiter();
      }),
      timeoutMs,
    ).finally(() => (this.waiter = undefined));
  }
}

/** A shell on `client`, connected with TCP_NODELAY as the backend's pool connects. */
function openDirectShell(client: Client, sshd: TestSshd): Promise<Terminal> {
  const opening = connectNoDelay(sshd, client).then(
    () =>
      new Promise<Terminal>((resolve, reject) => {
        client.shell({ term: 'xterm-256color', cols: 80, rows: 24 }, (error, channel: ClientChannel) => {
          if (error) return reject(error);
          const output = new OutputBuffer((text) => channel.write(text));
          channel.setEncoding('utf8');
          channel.on('data', (text: string) => output.push(text));
          resolve(output);
        });
      }),
  );
  return withTimeout('a direct ssh2 shell to open', opening);
}

/**
 * Types letters at the shell's prompt and times each one until readline echoes it, then erases it (backspace)
 * so the line stays short. Letters only: the erase sequences and the prompt's colours never contain one.
 */
async function echoLatencies(terminal: Terminal, keystrokes = KEYSTROKES): Promise<number[]> {
  await waitForPrompt(terminal);
  const latencies: number[] = [];
  for (let n = 0; n < WARMUP_KEYSTROKES + keystrokes; n++) {
    const key = String.fromCharCode(97 + (n % 26));
    terminal.take();
    const started = performance.now();
    terminal.send(key);
    await terminal.until(`the echo of "${key}"`, (received) => received.includes(key));
    if (n >= WARMUP_KEYSTROKES) latencies.push(performance.now() - started);
    terminal.take();
    terminal.send('\x7f');
    await terminal.until('the erase of a key', (received) => received.includes('\b'));
  }
  return latencies;
}

/** Runs a command whose marker (built by printf, so the echoed command line never matches) shows the prompt is next. */
async function waitForPrompt(terminal: Terminal): Promise<void> {
  terminal.take();
  terminal.send("printf 'PROMPT-%s\\n' NEXT\r");
  await terminal.until('the shell to run a command', (received) => received.includes('PROMPT-NEXT\r\n'));
  // The prompt ends in "$ " or "# " (then bash may switch on bracketed paste); keys typed before readline reads
  // them would be echoed by the pty instead.
  await terminal.until('the prompt', (received) => /[$#] (\x1b\[\?2004h)?$/.test(received.split('PROMPT-NEXT\r\n').pop()!));
}

/** MB/s of `head -c FLOOD_BYTES /dev/zero | base64` arriving at the reader, which reads as fast as it can. */
async function floodThroughput(terminal: Terminal): Promise<number> {
  await waitForPrompt(terminal);
  terminal.take();
  const before = terminal.received();
  const started = performance.now();
  terminal.send(`head -c ${FLOOD_BYTES} /dev/zero | base64; printf 'FLOOD-%s\\n' END\r`);
  // Each new chunk is searched with the end of the one before (the marker may straddle them), never all 27 MB again.
  let carry = '';
  await terminal.until(
    'the flood to finish',
    () => {
      const text = carry + terminal.take();
      carry = text.slice(-FLOOD_MARKER.length);
      return text.includes(FLOOD_MARKER);
    },
    FLOOD_TIMEOUT_MS,
  );
  const seconds = (performance.now() - started) / 1000;
  return (terminal.received() - before) / 1e6 / seconds;
}

/** Opens IDLE_TERMINALS gateway terminals, OPEN_CONCURRENCY at a time; returns how long each batch took to open. */
async function openIdleTerminals(openGateway: () => Promise<Terminal>): Promise<number[]> {
  const batchMs: number[] = [];
  for (let opened = 0; opened < IDLE_TERMINALS; opened += OPEN_CONCURRENCY) {
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, IDLE_TERMINALS - opened) }, openGateway));
    batchMs.push(performance.now() - started);
  }
  return batchMs;
}

async function withTimeout<T>(what: string, promise: Promise<T>, timeoutMs = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Figures {
  directEcho: number[];
  gatewayEcho: number[];
  directRate: number;
  gatewayRate: number;
  rssBefore: number;
  rssAfter: number;
  openMs: number[];
}

function report(f: Figures): ScenarioResult {
  const ms = (value: number) => value.toFixed(2);
  const p50 = (values: number[]) => percentile(values, 50);
  const echoGap: Verdict = {
    measure: 'terminal echo p50 gateway - direct',
    value: p50(f.gatewayEcho) - p50(f.directEcho),
    unit: 'ms',
    target: { bound: '<=', value: TARGET_MAX_ECHO_GAP_MS },
  };
  const rateRatio: Verdict = {
    measure: 'terminal throughput gateway / direct',
    value: f.gatewayRate / f.directRate,
    unit: 'x',
    target: { bound: '>=', value: TARGET_MIN_THROUGHPUT_RATIO },
  };
  const perTerminalKb = ((f.rssAfter - f.rssBefore) * 1024) / IDLE_TERMINALS;
  const text = [
    `${KEYSTROKES} keystrokes per path after ${WARMUP_KEYSTROKES} warm-up ones, each echoed by bash's readline; ` +
      `flood: head -c ${FLOOD_BYTES} /dev/zero | base64 to a reader as fast as it can, median of ${FLOOD_ROUNDS} alternating rounds; sshd on loopback; ` +
      `direct shell: its connection with ${DIRECT_NO_DELAY_NOTE} (setNoDelay once ready)`,
    '',
    renderTable(
      ['path', 'echo p50 ms', 'echo p95 ms', 'echo p99 ms', 'throughput MB/s'],
      [
        ['direct ssh2 shell (open connection, TCP_NODELAY)', ...[50, 95, 99].map((p) => ms(percentile(f.directEcho, p))), f.directRate.toFixed(1)],
        ['gateway (Socket.IO websocket)', ...[50, 95, 99].map((p) => ms(percentile(f.gatewayEcho, p))), f.gatewayRate.toFixed(1)],
      ],
    ),
    '',
    `echo p50 gateway - direct: ${ms(echoGap.value)} ms ${targetNote(echoGap)}`,
    `throughput gateway / direct: ${rateRatio.value.toFixed(2)}x ${targetNote(rateRatio)}`,
    `${IDLE_TERMINALS} idle terminals (${OPEN_CONCURRENCY} opened at a time, batch p50 ${ms(percentile(f.openMs, 50))} ms): ` +
      `backend RSS ${f.rssBefore.toFixed(1)} MB -> ${f.rssAfter.toFixed(1)} MB (${perTerminalKb.toFixed(0)} KB per terminal)`,
  ].join('\n');
  return { report: text, verdicts: [echoGap, rateRatio] };
}
