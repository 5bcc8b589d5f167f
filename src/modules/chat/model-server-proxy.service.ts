import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { once } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { Dispatcher, errors } from 'undici';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';
import { ServiceHost } from '../services/services.repository';
import { ServicesService } from '../services/services.service';
import { OpenAiModel, OpenAiModelList } from './dto/openai.dto';
import { describe, ModelServerAnswer, ModelServerClient, ModelServerEndpoint, ReplicaHooks } from './model-server.client';
import { EventStreamRelay, UsageWatcher } from './event-stream-relay';
import { OpenAiException } from './openai-errors';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  // no-transform: a compressing proxy would otherwise hold events back to fill its buffers.
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** The endpoints whose answer is relayed as it is. */
export type RelayedEndpoint = Exclude<ModelServerEndpoint, '/models'>;
/** The relayed endpoints that answer `stream: true` with server-sent events. */
const STREAMING_ENDPOINTS = new Set<RelayedEndpoint>(['/chat/completions', '/completions']);
/** Content types relayed as a stream: server-sent events, or JSON lines (some servers send those instead). */
const STREAMABLE_TYPES = /^(text\/event-stream|application\/(json|x-ndjson|ndjson|jsonl))$/;
/** The most of an upstream error body that is read, and relayed when OpenAI-shaped; the rest is never read. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** The most of a model server's model list that is read; a longer list is not used. */
const MODEL_LIST_LIMIT = 1024 * 1024;
/** The most characters of an upstream body quoted in an error message. */
const EXCERPT_CHARS = 200;
/** Upstream 4xx that say the proxy is misconfigured (its model server wants credentials, or is not one), not that the caller erred. */
const PROXY_FAULTS = new Set([401, 403, 404]);
/** `owned_by` of the models the model server does not describe itself. */
const OWNER = 'infinistudio';

/** Sees what is relayed, as it passes: the gateway counts usage with it. */
export interface RelayWatcher extends UsageWatcher {
  /** A successful non-streamed answer, parsed. */
  answer(body: unknown): void;
  /** The stream broke off mid-way (its client got an error event). */
  streamFailed(): void;
}

/** How the gateway relays: over replicas it balances, each asked for the model it serves, watching what passes. */
export interface RelayOptions<H extends ServiceHost> {
  replicas?: ReplicaHooks;
  watcher?: RelayWatcher;
  /** The `model` to send each host; default: the request's. */
  modelOf?: (host: H) => string;
}

/** What JSON.parse gave when the text was not JSON: `null` is JSON. */
const NOT_JSON = Symbol('not JSON');

/**
 * The OpenAI-compatible API of a service, served by the model server of its first reachable server: chat
 * completions, completions and embeddings relayed as they are — streamed as they arrive, with back-pressure, when
 * asked to — and the models it serves.
 */
@Injectable()
export class ModelServerProxy {
  private readonly logger = new Logger(ModelServerProxy.name);

  constructor(
    private readonly services: ServicesService,
    private readonly modelServer: ModelServerClient,
    private readonly metrics: BackendMetrics,
    @Inject(chatConfig.KEY) private readonly config: ChatConfig,
  ) {}

  async relay(serviceId: number, endpoint: RelayedEndpoint, body: Record<string, unknown>, response: Response): Promise<void> {
    const hosts = await this.services.hostsOf(serviceId);
    if (hosts.length === 0) throw new OpenAiException(HttpStatus.BAD_REQUEST, 'No servers associated with this service', 'no_servers');
    return this.relayTo(hosts, endpoint, body, response);
  }

  /** Relays to the first of `hosts` whose model server takes the connection; `replicas` hears of every attempt. */
  async relayTo<H extends ServiceHost>(
    hosts: H[],
    endpoint: RelayedEndpoint,
    body: Record<string, unknown>,
    response: Response,
    { replicas, watcher, modelOf }: RelayOptions<H> = {},
  ): Promise<void> {
    const clientGone = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) clientGone.abort();
    });
    const firstByte = this.metrics.startChatFirstByteTimer(endpoint);
    const answer = await this.modelServer.send(
      hosts,
      endpoint,
      {
        method: 'POST',
        body: modelOf
          ? (host) => JSON.stringify({ ...body, model: modelOf(host) })
          : JSON.stringify({ ...body, model: body.model ?? this.config.defaultModel }),
        signal: clientGone.signal,
      },
      replicas,
    );
    firstByte();
    try {
      await this.relayAnswer(answer, endpoint, body, response, clientGone.signal, watcher);
    } finally {
      answer.finished();
    }
  }

  private async relayAnswer(
    answer: ModelServerAnswer,
    endpoint: RelayedEndpoint,
    body: Record<string, unknown>,
    response: Response,
    clientGone: AbortSignal,
    watcher?: RelayWatcher,
  ): Promise<void> {
    const { upstream, address } = answer;
    if (STREAMING_ENDPOINTS.has(endpoint) && body.stream === true && upstream.statusCode === 200) {
      const contentType = mediaType(upstream.headers['content-type']);
      if (STREAMABLE_TYPES.test(contentType)) return this.metrics.duringChatStream(() => this.relayStream(answer, response, clientGone, watcher));
      const { text } = await readPrefix(upstream.body, ERROR_BODY_LIMIT);
      throw upstreamError(
        HttpStatus.BAD_GATEWAY,
        'upstream_invalid_body',
        `${answered(address, 200)} with ${contentType || 'no content type'} instead of an event stream${quote(text)}`,
      );
    }
    if (upstream.statusCode >= 200 && upstream.statusCode < 300) return this.relayJson(answer, response, watcher);
    return this.relayFailure(answer, response);
  }

  /** The models of the service's model server, or, when it lists none, the service's model and CHAT_DEFAULT_MODEL. */
  async models(serviceId: number): Promise<OpenAiModelList> {
    const service = await this.services.get(serviceId);
    const created = Math.floor(new Date(service.created_at).getTime() / 1000);
    const configured = [...new Set([service.model_name, this.config.defaultModel])].filter((id): id is string => !!id);
    const data =
      (await this.listedModels(serviceId, created)) ?? configured.map((id) => ({ id, object: 'model' as const, created, owned_by: OWNER }));
    return { object: 'list', data };
  }

  async model(serviceId: number, modelId: string): Promise<OpenAiModel> {
    const found = (await this.models(serviceId)).data.find((model) => model.id === modelId);
    if (!found) throw new OpenAiException(HttpStatus.NOT_FOUND, `The model '${modelId}' does not exist`, 'model_not_found', 'model');
    return found;
  }

  /**
   * The model server's own list, its entries completed to OpenAI's shape (`created` defaults to the service's); undefined
   * when no model server answers one within CHAT_CONNECT_TIMEOUT_MS: a listing is quick, or it is not coming.
   */
  private async listedModels(serviceId: number, created: number): Promise<OpenAiModel[] | undefined> {
    const hosts = await this.services.hostsOf(serviceId);
    if (hosts.length === 0) return undefined;
    let answer: ModelServerAnswer;
    try {
      answer = await this.modelServer.send(hosts, '/models', { method: 'GET', signal: AbortSignal.timeout(this.config.connectTimeoutMs) });
    } catch (error) {
      if (error instanceof OpenAiException) return undefined;
      throw error;
    }
    const { text, whole } = await readPrefix(answer.upstream.body, MODEL_LIST_LIMIT);
    const entries = answer.upstream.statusCode === 200 && whole ? listEntries(text) : undefined;
    return entries
      ?.filter((entry): entry is Record<string, unknown> & { id: string } => typeof (entry as { id?: unknown } | null)?.id === 'string')
      .map((entry) => ({
        ...entry,
        object: 'model' as const,
        created: typeof entry.created === 'number' ? entry.created : created,
        owned_by: typeof entry.owned_by === 'string' ? entry.owned_by : OWNER,
      }));
  }

  /** A successful upstream answer passes as a 200 when its body is JSON; an empty or non-JSON one is the model server's failure. */
  private async relayJson({ upstream, address }: ModelServerAnswer, response: Response, watcher?: RelayWatcher): Promise<void> {
    let answer: string;
    try {
      answer = await upstream.body.text();
    } catch (error) {
      if (error instanceof errors.BodyTimeoutError)
        throw upstreamError(HttpStatus.GATEWAY_TIMEOUT, 'upstream_timeout', `Model server ${address} stopped sending`);
      throw upstreamError(HttpStatus.BAD_GATEWAY, 'upstream_disconnected', `Connection failed: ${address}: ${describe(error)}`);
    }
    const parsed = parseJson(answer);
    if (parsed !== NOT_JSON) {
      watcher?.answer(parsed);
      response.status(200).type('application/json').send(answer);
      return;
    }
    const problem = answer.trim() === '' ? 'with an empty body' : 'with a body that is not JSON';
    throw upstreamError(HttpStatus.BAD_GATEWAY, 'upstream_invalid_body', `${answered(address, upstream.statusCode)} ${problem}${quote(answer)}`);
  }

  /**
   * A 4xx about the caller's request keeps its status, with the model server's own body when it is an OpenAI error
   * (clients keep its `code` and `type`). Anything else — 401/403/404, redirects, 5xx, odd statuses — is a 502:
   * passed on, it would read as the caller's credentials failing or as a redirect to follow.
   */
  private async relayFailure({ upstream, address, paths }: ModelServerAnswer, response: Response): Promise<void> {
    const status = upstream.statusCode;
    const { text, whole } = await readPrefix(upstream.body, ERROR_BODY_LIMIT);
    const openAiMessage = whole ? openAiErrorMessage(text) : undefined;
    const relayed = relayedStatus(status);
    const callersFault = relayed !== HttpStatus.BAD_GATEWAY;
    if (callersFault && openAiMessage !== undefined) {
      response.status(status).type('application/json').send(text);
      return;
    }
    // A 404 comes after both paths were asked: naming them tells a wrong chat_port from a missing model.
    const where = status === 404 ? ` at ${paths.join(' and ')}` : '';
    const location = status >= 300 && status < 400 ? redirectTarget(upstream.headers.location) : '';
    throw upstreamError(relayed, `upstream_status_${status}`, `${answered(address, status)}${where}${location}${quote(openAiMessage ?? text)}`);
  }

  /**
   * Relays server-sent events as they arrive (see EventStreamRelay), ending with `data: [DONE]`: the answer ends with
   * the model server's `[DONE]` (one write with it), whenever its body ends, which is then read to its end unsent. A
   * failure mid-stream becomes a final error event; a departed client aborts the upstream.
   */
  private async relayStream(
    { upstream, address }: ModelServerAnswer,
    response: Response,
    clientGone: AbortSignal,
    watcher?: RelayWatcher,
  ): Promise<void> {
    response.writeHead(200, SSE_HEADERS);
    let started = false;
    // The headers leave with the first events when those have come with the upstream's headers (one write, not two),
    // else at the end of this turn of the event loop, so that the client sees the answer begin while the model thinks.
    setImmediate(() => {
      if (!started && !response.writableEnded && !response.destroyed) response.flushHeaders();
    });
    const events = new EventStreamRelay(watcher);
    /** One write per upstream read, not per event. */
    const forward = async (relayed: Buffer | string): Promise<void> => {
      if (relayed.length === 0) return;
      started = true;
      if (!response.write(relayed)) await once(response, 'drain', { signal: clientGone });
    };
    try {
      for await (const chunk of upstream.body) {
        const relayed = events.push(chunk as Buffer);
        if (!events.done) await forward(relayed);
        else if (!response.writableEnded) response.end(relayed);
      }
      await forward(events.end());
    } catch (error) {
      // After [DONE] the client has the whole answer: what became of the rest of the body is no news to it.
      if (clientGone.aborted || response.writableEnded) return;
      watcher?.streamFailed();
      const timedOut = error instanceof errors.BodyTimeoutError;
      const message = timedOut
        ? `Model server ${address} stopped sending (idle timeout)`
        : `Model server ${address} stream failed: ${describe(error)}`;
      this.logger.warn(message);
      const code = timedOut ? 'upstream_timeout' : 'upstream_disconnected';
      response.write(`data: ${JSON.stringify({ error: { message, type: 'upstream_error', code, param: null } })}\n\n`);
    }
    if (response.writableEnded) return;
    if (!events.done && !clientGone.aborted) response.write('data: [DONE]\n\n');
    response.end();
  }
}

/** The model server's failure, in OpenAI's shape; `openai` clients read it as an APIError. */
function upstreamError(status: number, code: string, message: string): OpenAiException {
  return new OpenAiException(status, message, code, null, 'upstream_error');
}

/** `Model server <address> answered 401 Unauthorized`. */
function answered(address: string, status: number): string {
  return `Model server ${address} answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd();
}

/** `: <excerpt>` of an upstream body, or nothing when there is nothing readable to quote. */
function quote(text: string): string {
  const quoted = excerpt(text);
  return quoted ? `: ${quoted}` : '';
}

/** Where a redirect pointed, quoted like a body: a hint that chat_port reaches a login page or a gateway. */
function redirectTarget(location: string | string[] | undefined): string {
  const target = excerpt(String(location ?? ''));
  return target ? ` (redirecting to ${target})` : '';
}

/**
 * A short single-line quote of an upstream text, safe to show to a caller: script and style blocks and markup
 * removed, control and format characters (bidi overrides, zero-width) blanked, at most EXCERPT_CHARS characters.
 * Each pattern matches to the end of the text when unterminated, so a hostile body costs linear time.
 */
function excerpt(text: string): string {
  const plain = text
    .slice(0, ERROR_BODY_LIMIT)
    .replace(/<(script|style)\b[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
    .replace(/<[a-z!?/][^>]*(>|$)/gi, ' ')
    .replace(/[\p{Cc}\p{Cf}\s]+/gu, ' ')
    .trim();
  const characters = Array.from(plain);
  return characters.length <= EXCERPT_CHARS ? plain : `${characters.slice(0, EXCERPT_CHARS - 1).join('')}…`;
}

/**
 * The status a model server's non-2xx answer is relayed with: the caller's own faults (a 4xx) keep theirs; 401, 403 and
 * 404 (the model server's credentials or path, not the caller's), 3xx, 5xx and anything else are a bad gateway.
 */
export function relayedStatus(upstreamStatus: number): HttpStatus {
  return upstreamStatus >= 400 && upstreamStatus < 500 && !PROXY_FAULTS.has(upstreamStatus) ? upstreamStatus : HttpStatus.BAD_GATEWAY;
}

/** At most `limit` bytes of a body; reading stops (closing the upstream) beyond that or on a failure, keeping what arrived. */
async function readPrefix(body: Dispatcher.ResponseData['body'], limit: number): Promise<{ text: string; whole: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let whole = true;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > limit) {
        whole = false;
        break;
      }
    }
  } catch {
    whole = false;
  }
  return { text: Buffer.concat(chunks).subarray(0, limit).toString('utf8'), whole };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The `data` entries of a model list `{"object": "list", "data": [...]}`; undefined for any other body. */
function listEntries(text: string): unknown[] | undefined {
  try {
    const data = (JSON.parse(text) as { data?: unknown } | null)?.data;
    return Array.isArray(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** The message of an OpenAI-shaped error body `{"error": {"message": …}}`; undefined for any other body. */
function openAiErrorMessage(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: unknown } | null)?.error as { message?: unknown } | null | undefined;
    return typeof error === 'object' && error !== null && !Array.isArray(error) && typeof error.message === 'string' ? error.message : undefined;
  } catch {
    return undefined;
  }
}

/** `text/event-stream` of `text/event-stream; charset=utf-8`; '' when absent. */
function mediaType(contentType: string | string[] | undefined): string {
  return String(contentType ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
}
