import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Agent, Dispatcher, errors, request } from 'undici';
import { servicesConfig, ServicesConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';

/** Where a server's agent listens. */
export interface AgentAddress {
  host: string;
  port: number;
}

export interface AgentServiceStatus {
  /** `running` or `stopped`; other agents may say more. */
  status: string;
  pid?: number;
  command?: string;
  start_time?: string;
  return_code?: number | null;
}

export interface AgentOperationAnswer {
  status: string;
  pid?: number;
  message?: string;
}

export type AgentFailure = 'unreachable' | 'timeout' | 'http' | 'protocol';

/** The calls the client makes, as the Prometheus metrics name them. */
type AgentOperation = 'deploy' | 'restart' | 'stop' | 'status' | 'services';

/** Every failure of an agent call: which agent, what happened, and the agent's own `error` text if it sent one. */
export class AgentError extends Error {
  constructor(
    readonly kind: AgentFailure,
    readonly host: string,
    readonly port: number,
    message: string,
    readonly httpStatus?: number,
    readonly agentError?: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

/**
 * The port-8888 agent protocol: deploy, restart, stop, status and services on
 * `http://<host>:<agent_port>`, over keep-alive connections, every call bounded by a timeout.
 */
/** One request to an agent: where, with what, and how long it may take. */
interface AgentExchange {
  method: Dispatcher.HttpMethod;
  path: string;
  timeoutMs: number;
  body?: unknown;
  signal?: AbortSignal;
}

@Injectable()
export class AgentClient implements OnApplicationShutdown {
  private readonly dispatcher: Agent;

  constructor(
    @Inject(servicesConfig.KEY) private readonly config: ServicesConfig,
    private readonly metrics: BackendMetrics,
  ) {
    this.dispatcher = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(config.agentStatusTimeoutMs, 5000) },
    });
  }

  deploy(agent: AgentAddress, serviceId: number, command: string, signal?: AbortSignal): Promise<AgentOperationAnswer> {
    return this.call('deploy', agent, {
      method: 'POST',
      path: `/service/${serviceId}/deploy`,
      timeoutMs: this.config.agentOperationTimeoutMs,
      body: { command },
      signal,
    });
  }

  restart(agent: AgentAddress, serviceId: number, command: string, signal?: AbortSignal): Promise<AgentOperationAnswer> {
    return this.call('restart', agent, {
      method: 'POST',
      path: `/service/${serviceId}/restart`,
      timeoutMs: this.config.agentOperationTimeoutMs,
      body: { command },
      signal,
    });
  }

  stop(agent: AgentAddress, serviceId: number, signal?: AbortSignal): Promise<AgentOperationAnswer> {
    return this.call('stop', agent, { method: 'POST', path: `/service/${serviceId}/stop`, timeoutMs: this.config.agentOperationTimeoutMs, signal });
  }

  status(agent: AgentAddress, serviceId: number): Promise<AgentServiceStatus> {
    return this.call('status', agent, { method: 'GET', path: `/service/${serviceId}/status`, timeoutMs: this.config.agentStatusTimeoutMs });
  }

  services(agent: AgentAddress): Promise<Record<string, AgentServiceStatus>> {
    return this.call('services', agent, { method: 'GET', path: '/services', timeoutMs: this.config.agentStatusTimeoutMs });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.destroy();
  }

  /** One exchange with an agent, timed and, when it fails, counted by operation. */
  private async call<T>(operation: AgentOperation, agent: AgentAddress, exchange: AgentExchange): Promise<T> {
    const ended = this.metrics.startAgentCall(operation);
    try {
      const answer = await this.exchange<T>(agent, exchange);
      ended();
      return answer;
    } catch (error) {
      // exchange throws nothing but AgentErrors.
      ended((error as AgentError).kind);
      throw error;
    }
  }

  private async exchange<T>(agent: AgentAddress, { method, path, timeoutMs, body, signal }: AgentExchange): Promise<T> {
    const address = `${agent.host}:${agent.port}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`http://${formatHost(agent.host)}:${agent.port}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (error) {
      throw describeFailure(agent, error, timeout.aborted, timeoutMs);
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw describeFailure(agent, error, timeout.aborted, timeoutMs);
    }
    const parsed = parseJson(text);
    if (response.statusCode !== 200) {
      const agentError = typeof parsed?.error === 'string' ? parsed.error : undefined;
      throw new AgentError(
        'http',
        agent.host,
        agent.port,
        `Agent ${address} answered ${response.statusCode}${agentError ? `: ${agentError}` : ''}`,
        response.statusCode,
        agentError,
      );
    }
    if (parsed === undefined) throw new AgentError('protocol', agent.host, agent.port, `Agent ${address} answered with invalid JSON`);
    return parsed as T;
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeFailure(agent: AgentAddress, error: unknown, timedOut: boolean, timeoutMs: number): AgentError {
  const address = `${agent.host}:${agent.port}`;
  if (timedOut || error instanceof errors.ConnectTimeoutError) {
    return new AgentError('timeout', agent.host, agent.port, `Agent ${address} did not answer within ${timeoutMs} ms`);
  }
  const code = (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
  if (code === 'ECONNREFUSED') return new AgentError('unreachable', agent.host, agent.port, `Agent ${address} refused the connection`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new AgentError('unreachable', agent.host, agent.port, `Cannot resolve agent host ${agent.host}`);
  const message = error instanceof Error ? error.message : String(error);
  return new AgentError('unreachable', agent.host, agent.port, `Agent ${address} failed: ${message}`);
}
