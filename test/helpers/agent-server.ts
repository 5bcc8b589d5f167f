import { ChildProcess, spawn } from 'node:child_process';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { constants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';

/** How long a stopped service gets to exit on SIGTERM before its process group is SIGKILLed. */
const STOP_GRACE_MS = 1000;

export type AgentFailureMode = 'none' | 'error500' | 'hang';

export interface AgentRequest {
  method: string;
  path: string;
  /** Parsed JSON; the raw text when it was not JSON; undefined when there was no body. */
  body: unknown;
}

/** What `GET /service/:id/status` answers (and each value of `GET /services`). */
export interface AgentServiceStatus {
  status: 'running' | 'stopped';
  /** Only while running: a stale pid would invite killing a stranger. */
  pid?: number;
  command?: string;
  /** ISO-8601 UTC. */
  start_time?: string;
  /** Once exited. Like Python's Popen.returncode: the exit code, or -N when killed by signal N. */
  return_code?: number;
}

export interface TestAgent {
  readonly port: number;
  /** e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, in arrival order (failure modes included). */
  readonly requests: AgentRequest[];
  /** error500: every call answers 500 `{error:'agent exploded'}`; hang: every call is accepted and never answered. */
  setFailure(mode: AgentFailureMode): void;
  isRunning(id: string | number): boolean;
  /** Kills every spawned process group, then closes the server and every socket (hung requests included). Idempotent. */
  stop(): Promise<void>;
}

interface ManagedService {
  command: string;
  child: ChildProcess;
  startTime: string;
  exited: Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A real stand-in for the port-8888 service agent: deploy/restart really spawn `bash -c <command>` in its
 * own process group, so status, pids and exit codes are the operating system's, not a script's.
 */
export async function startAgentServer(options: { delayMs?: number; answersHeldUntil?: Promise<unknown> } = {}): Promise<TestAgent> {
  const delayMs = options.delayMs ?? 0;
  const services = new Map<string, ManagedService>();
  // Operations on one service run one at a time, so two concurrent deploys cannot both spawn and leak one.
  const queues = new Map<string, Promise<unknown>>();
  const requests: AgentRequest[] = [];
  let failure: AgentFailureMode = 'none';
  let closing = false;
  // Cancels pending delayMs waits on stop(), so no timer outlives the agent.
  const shutdown = new AbortController();

  const serialised = <T>(id: string, operation: () => Promise<T>): Promise<T> => {
    const result = (queues.get(id) ?? Promise.resolve()).then(operation);
    queues.set(
      id,
      result.catch(() => undefined),
    );
    return result;
  };

  const launch = async (id: string, command: string): Promise<ManagedService> => {
    if (closing) throw new HttpError(503, 'Agent is shutting down');
    // detached: its own process group, so stop can signal the command and everything it started.
    const child = spawn('bash', ['-c', command], { detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new HttpError(500, `Failed to start: ${error.message}`)));
    });
    const service = { command, child, startTime: new Date().toISOString(), exited };
    services.set(id, service);
    return service;
  };

  const deploy = (id: string, command: string, verb: 'deployed' | 'restarted') =>
    serialised(id, async () => {
      const previous = services.get(id);
      if (previous) await terminate(previous);
      const { child } = await launch(id, command);
      return { status: verb, pid: child.pid!, message: `Service ${id} ${verb} (pid ${child.pid})` };
    });

  const stopService = (id: string) =>
    serialised(id, async () => {
      const service = services.get(id);
      if (!service) throw new HttpError(404, `Service ${id} not found`);
      const wasRunning = isAlive(service);
      await terminate(service);
      return { status: 'stopped', message: wasRunning ? `Service ${id} stopped` : `Service ${id} was not running` };
    });

  const route = async (method: string, path: string, body: unknown, bodyIsJson: boolean): Promise<unknown> => {
    if (method === 'GET' && path === '/health') return { status: 'ok' };
    if (method === 'GET' && path === '/services') {
      return Object.fromEntries([...services].map(([id, service]) => [id, statusOf(service)]));
    }
    const match = /^\/service\/([^/]+)\/(deploy|restart|stop|status)$/.exec(path);
    const action = match?.[2];
    const id = match?.[1] ?? '';
    if (action === 'status' && method === 'GET') {
      const service = services.get(id);
      return service ? statusOf(service) : { status: 'stopped' };
    }
    if (method !== 'POST' || !action || action === 'status') throw new HttpError(404, `No route for ${method} ${path}`);
    let result: unknown;
    if (action === 'stop') {
      result = await stopService(id);
    } else {
      if (body !== undefined && !bodyIsJson) throw new HttpError(400, 'Malformed JSON body');
      const command = (body as { command?: unknown } | null)?.command;
      if (typeof command !== 'string' || command.trim() === '') throw new HttpError(400, 'Missing "command"');
      result = await deploy(id, command, action === 'deploy' ? 'deployed' : 'restarted');
    }
    // Slows deploy/restart/stop answers so a test can tell parallel calls from sequential ones.
    if (delayMs > 0) await delay(delayMs, undefined, { signal: shutdown.signal });
    // Holds them until the test says so: requests that all arrive while the answers are held were sent in parallel.
    if (options.answersHeldUntil) await options.answersHeldUntil;
    return result;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    let body: unknown = undefined;
    let bodyIsJson = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
        bodyIsJson = true;
      } catch {
        body = raw;
      }
    }
    const method = req.method ?? 'GET';
    requests.push({ method, path, body });
    if (failure === 'hang') return; // The socket stays open until the client gives up or stop() destroys it.
    if (failure === 'error500') return send(res, 500, { error: 'agent exploded' });
    try {
      send(res, 200, await route(method, path, body, bodyIsJson));
    } catch (error) {
      if (error instanceof HttpError) send(res, error.status, { error: error.message });
      else send(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
  };

  const server = createServer((req, res) => {
    // A client that hangs up mid-body makes readBody reject; there is nobody left to answer.
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    setFailure: (mode) => {
      failure = mode;
    },
    isRunning: (id) => {
      const service = services.get(String(id));
      return service !== undefined && isAlive(service);
    },
    stop() {
      stopping ??= (async () => {
        closing = true;
        shutdown.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        // Let in-flight operations settle so nothing is spawned after the sweep below.
        await Promise.all(queues.values());
        await Promise.all([...services.values()].map((service) => terminate(service, 0)));
        await closed;
      })();
      return stopping;
    },
  };
}

function isAlive(service: ManagedService): boolean {
  return service.child.exitCode === null && service.child.signalCode === null;
}

function statusOf(service: ManagedService): AgentServiceStatus {
  const { command, child, startTime } = service;
  if (isAlive(service)) return { status: 'running', pid: child.pid, command, start_time: startTime };
  const returnCode = child.exitCode ?? -constants.signals[child.signalCode!];
  return { status: 'stopped', command, start_time: startTime, return_code: returnCode };
}

/** SIGTERM to the whole group, SIGKILL to the group if the leader outlives the grace period. */
async function terminate(service: ManagedService, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isAlive(service)) return;
  const group = -service.child.pid!;
  if (graceMs > 0) {
    signalGroup(group, 'SIGTERM');
    const grace = new AbortController();
    const expired = delay(graceMs, true, { signal: grace.signal }).catch(() => false);
    const timedOut = await Promise.race([service.exited.then(() => false), expired]);
    grace.abort();
    if (!timedOut) return;
  }
  signalGroup(group, 'SIGKILL');
  await service.exited;
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(group, signal);
  } catch (error) {
    // The group emptied between the liveness check and the signal.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += chunk;
  return text;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
