import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The `route` of requests that matched no route (unknown paths, bodies refused before routing): never the raw URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Request latencies from a cached read to a slow SSH-backed call. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** From a warm model server's first token to a cold one loading its weights. */
const CHAT_FIRST_BYTE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Status answers take milliseconds; deploys may wait AGENT_OPERATION_TIMEOUT_MS. */
const AGENT_CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The backend's own health, as the hooks features call: HTTP requests, task runs, terminals, chat streams and agent
 * calls. Injected where the events happen; everything is registered in the application's registry.
 */
/** How a gateway call ended: `abandoned` when the client left before the answer's end. */
export type GatewayOutcome = 'ok' | 'error' | 'rate_limited' | 'abandoned';

@Injectable()
export class BackendMetrics {
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly taskRuns: Counter<'outcome'>;
  private readonly openTerminals: Gauge;
  private readonly openChatStreams: Gauge;
  private readonly chatFirstByte: Histogram<'endpoint'>;
  private readonly agentCallDuration: Histogram<'operation'>;
  private readonly agentCallFailures: Counter<'operation' | 'reason'>;
  private readonly gatewayRequests: Counter<'model' | 'outcome'>;
  private readonly gatewayTokens: Counter<'model' | 'kind'>;
  private readOpenTerminals: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    this.httpDuration = new Histogram({
      name: 'infinistudio_http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status, from arrival to the end of the answer',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.taskRuns = new Counter({
      name: 'infinistudio_task_runs_total',
      help: 'Finished task runs by outcome (completed, failed, timed_out, skipped)',
      labelNames: ['outcome'],
      registers,
    });
    this.openTerminals = new Gauge({
      name: 'infinistudio_terminals_open',
      help: 'Browser SSH terminals open now',
      registers,
      collect: () => this.openTerminals.set(this.readOpenTerminals()),
    });
    this.openChatStreams = new Gauge({
      name: 'infinistudio_chat_streams_open',
      help: 'Chat completions being streamed from a model server to a client now',
      registers,
    });
    this.chatFirstByte = new Histogram({
      name: 'infinistudio_chat_upstream_ttfb_seconds',
      help: "Time from sending a request to a model server until its answer's status and headers arrived, by endpoint",
      labelNames: ['endpoint'],
      buckets: CHAT_FIRST_BYTE_BUCKETS,
      registers,
    });
    this.agentCallDuration = new Histogram({
      name: 'infinistudio_agent_call_duration_seconds',
      help: 'Calls to the port-8888 agents by operation, failed ones included',
      labelNames: ['operation'],
      buckets: AGENT_CALL_BUCKETS,
      registers,
    });
    this.agentCallFailures = new Counter({
      name: 'infinistudio_agent_call_failures_total',
      help: 'Failed calls to the port-8888 agents by operation and reason (unreachable, timeout, http, protocol)',
      labelNames: ['operation', 'reason'],
      registers,
    });
    this.gatewayRequests = new Counter({
      name: 'infinistudio_gateway_requests_total',
      help: 'Calls to the /v1 gateway by routable model and outcome (ok, error, rate_limited, abandoned: the client left mid-stream); unknown models are not counted here',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.gatewayTokens = new Counter({
      name: 'infinistudio_gateway_tokens_total',
      help: 'Tokens the model servers reported for /v1 gateway calls, by model and kind (prompt, completion)',
      labelNames: ['model', 'kind'],
      registers,
    });
  }

  /** Express middleware timing every request; the route is the matched template (`/api/servers/:id`), never the URL. */
  readonly observeHttpRequests = (request: Request, response: Response, next: NextFunction): void => {
    this.timeHttpAnswer(request, response);
    next();
  };

  /**
   * Times the answer to `request` from `arrivedAt` (a performance.now()) by its route template: `route` when given,
   * else the Express route it matched. Returns what stops timing it, for an answer that someone else will time.
   */
  timeHttpAnswer(request: IncomingMessage, response: ServerResponse, route?: string, arrivedAt = performance.now()): () => void {
    const observe = () => {
      const matched = route ?? ((request as Partial<Request>).route as { path?: unknown } | undefined)?.path;
      const labels = { method: request.method, route: typeof matched === 'string' ? matched : UNMATCHED_ROUTE, status: String(response.statusCode) };
      this.httpDuration.observe(labels, (performance.now() - arrivedAt) / 1000);
    };
    // `close` comes for finished answers and for clients that left early alike.
    response.once('close', observe);
    return () => response.off('close', observe);
  }

  taskRunFinished(outcome: string): void {
    this.taskRuns.inc({ outcome });
  }

  /** Where the number of open terminals is read at scrape time (the terminal gateway holds them). */
  countOpenTerminalsWith(read: () => number): void {
    this.readOpenTerminals = read;
  }

  /** Counts a chat stream as open while `relay` runs. */
  async duringChatStream<T>(relay: () => Promise<T>): Promise<T> {
    this.openChatStreams.inc();
    try {
      return await relay();
    } finally {
      this.openChatStreams.dec();
    }
  }

  /** Starts timing a request to a model server; call the result when its answer begins. */
  startChatFirstByteTimer(endpoint: string): () => void {
    const ended = this.chatFirstByte.startTimer({ endpoint });
    return () => void ended();
  }

  /** A gateway call to a routable model ended; `tokens` as its model server reported them. */
  gatewayCallEnded(model: string, outcome: GatewayOutcome, tokens?: { prompt_tokens: number; completion_tokens: number }): void {
    this.gatewayRequests.inc({ model, outcome });
    if (!tokens) return;
    this.gatewayTokens.inc({ model, kind: 'prompt' }, tokens.prompt_tokens);
    this.gatewayTokens.inc({ model, kind: 'completion' }, tokens.completion_tokens);
  }

  /** Starts timing an agent call; call the result when it ends, with the failure's reason if it failed. */
  startAgentCall(operation: string): (failure?: string) => void {
    const ended = this.agentCallDuration.startTimer({ operation });
    return (failure) => {
      ended();
      if (failure) this.agentCallFailures.inc({ operation, reason: failure });
    };
  }
}
