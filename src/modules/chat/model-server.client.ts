import { HttpStatus, Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Agent, Dispatcher, errors, request } from 'undici';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { ServiceHost } from '../services/services.repository';
import { OpenAiException } from './openai-errors';

/** An OpenAI-compatible endpoint of a model server, by its path without the `/v1` prefix. */
export type ModelServerEndpoint = '/chat/completions' | '/completions' | '/embeddings' | '/models';

export interface ModelServerRequest<H extends ServiceHost = ServiceHost> {
  method: 'GET' | 'POST';
  /** JSON; or, where replicas of one name serve differently named models, the JSON for each. */
  body?: string | ((host: H) => string);
  signal: AbortSignal;
}

type ResolvedRequest = ModelServerRequest & { body?: string };

/**
 * Told of each attempt on a replica, by whoever spreads load over several (the gateway): `attempt` before it, its
 * result called when the exchange with that replica ends; `unreachable` when it refused or did not accept the connection.
 */
export interface ReplicaHooks {
  attempt(address: string): () => void;
  unreachable(address: string): void;
}

/** A model server's answer, its body not yet read. */
export interface ModelServerAnswer {
  upstream: Dispatcher.ResponseData;
  /** To call once the answer has been relayed or dropped: ends the exchange for the ReplicaHooks. */
  finished: () => void;
  /** `host:port` of the model server that answered. */
  address: string;
  /** The paths asked, in order: the answer is the last one's, or the first one's when each answered 404. */
  paths: string[];
}

/**
 * HTTP to the model servers of a service's servers (`http://<host_ip>:<chat_port>`), over one keep-alive pool. Finds
 * where each server serves each endpoint: under `/v1` as standard (vLLM, SGLang, LMDeploy, Ollama serve nothing else),
 * at the root on older servers.
 */
@Injectable()
export class ModelServerClient implements OnApplicationShutdown {
  private readonly dispatcher: Agent;
  /** The path each model server answered each endpoint at, by `<host:port> <endpoint>`. */
  private readonly knownPaths = new Map<string, string>();

  constructor(@Inject(chatConfig.KEY) config: ChatConfig) {
    // Long generations are normal: the bound is on silence between bytes, not on the total time.
    this.dispatcher = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.idleTimeoutMs,
      bodyTimeout: config.idleTimeoutMs,
    });
  }

  /**
   * The answer of the first server whose model server accepts the connection; the next one is tried only on a refusal
   * or, with `replicas`, also when the connection is not accepted in time (nothing has been sent yet either way).
   */
  async send<H extends ServiceHost>(
    hosts: H[],
    endpoint: ModelServerEndpoint,
    init: ModelServerRequest<H>,
    replicas?: ReplicaHooks,
  ): Promise<ModelServerAnswer> {
    const refused: string[] = [];
    const timedOut: string[] = [];
    for (const host of hosts) {
      const address = `${host.host_ip}:${host.chat_port}`;
      const finished = replicas?.attempt(address) ?? (() => undefined);
      try {
        const answer = await this.ask(
          address,
          `http://${host.host_ip.includes(':') ? `[${host.host_ip}]` : host.host_ip}:${host.chat_port}`,
          endpoint,
          { ...init, body: typeof init.body === 'function' ? init.body(host) : init.body },
        );
        return { ...answer, finished };
      } catch (error) {
        finished();
        if (errorCode(error) === 'ECONNREFUSED' || (replicas && error instanceof errors.ConnectTimeoutError)) {
          replicas?.unreachable(address);
          (errorCode(error) === 'ECONNREFUSED' ? refused : timedOut).push(address);
          continue;
        }
        if (error instanceof errors.ConnectTimeoutError || error instanceof errors.HeadersTimeoutError) {
          throw new OpenAiException(HttpStatus.GATEWAY_TIMEOUT, `Model server ${address} did not answer in time`, 'upstream_timeout');
        }
        throw new OpenAiException(HttpStatus.BAD_GATEWAY, `Connection failed: ${address}: ${describe(error)}`, 'upstream_unreachable');
      }
    }
    const reasons = [
      refused.length > 0 && `connection refused by ${refused.join(', ')}`,
      timedOut.length > 0 && `no connection in time to ${timedOut.join(', ')}`,
    ];
    throw new OpenAiException(HttpStatus.BAD_GATEWAY, `Connection failed: ${reasons.filter(Boolean).join('; ')}`, 'upstream_unreachable');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.destroy();
  }

  /**
   * The model server's answer at the path that answered before, else at `/v1<endpoint>` and, on a 404, at
   * `<endpoint>`. The path that answers is remembered, in memory; a 404 there forgets it, so that a re-deployed server
   * is probed again. A 404 at both keeps the first answer: a `/v1` server's 404 may say which model it lacks.
   */
  private async ask(
    address: string,
    base: string,
    endpoint: ModelServerEndpoint,
    init: ResolvedRequest,
  ): Promise<Omit<ModelServerAnswer, 'finished'>> {
    const key = `${address} ${endpoint}`;
    const paths = this.knownPaths.get(key) === endpoint ? [endpoint, `/v1${endpoint}`] : [`/v1${endpoint}`, endpoint];
    const first = await this.request(base + paths[0], init);
    if (first.statusCode !== 404) {
      this.knownPaths.set(key, paths[0]);
      return { upstream: first, address, paths: [paths[0]] };
    }
    this.knownPaths.delete(key);
    let second: Dispatcher.ResponseData;
    try {
      second = await this.request(base + paths[1], init);
    } catch (error) {
      await first.body.dump();
      throw error;
    }
    if (second.statusCode === 404) {
      await second.body.dump();
      return { upstream: first, address, paths };
    }
    await first.body.dump();
    this.knownPaths.set(key, paths[1]);
    return { upstream: second, address, paths };
  }

  private request(url: string, { method, body, signal }: ResolvedRequest): Promise<Dispatcher.ResponseData> {
    return request(url, {
      method,
      dispatcher: this.dispatcher,
      headers:
        body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body,
      signal,
    });
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
}

/** An error's message, with its code when the message lacks it (`socket hang up (ECONNRESET)`). */
export function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
