import {
  BadGatewayException,
  BadRequestException,
  GatewayTimeoutException,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { Response } from 'express';
import { once } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { Agent, Dispatcher, errors, request } from 'undici';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { ServiceHost } from '../services/services.repository';
import { ServicesService } from '../services/services.service';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** Content types relayed as a stream: server-sent events, or JSON lines (some servers send those instead). */
const STREAMABLE_TYPES = /^(text\/event-stream|application\/(json|x-ndjson|ndjson|jsonl))$/;
/** The most of an upstream error body that is read, and relayed when OpenAI-shaped; the rest is never read. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** The most characters of an upstream body quoted in an error message. */
const EXCERPT_CHARS = 200;
/** Upstream 4xx that say the proxy is misconfigured (its model server wants credentials, or is not one), not that the caller erred. */
const PROXY_FAULTS = new Set([401, 403, 404]);

/** The OpenAI-shaped error of an upstream answer that cannot be passed on; `openai` clients read it as an APIError. */
interface UpstreamError {
  status: number;
  code: string;
  message: string;
}

/**
 * The OpenAI-compatible completions proxy: forwards a chat request to the model server of the service's
 * first reachable server and relays the answer — streamed as it arrives, with back-pressure, when asked to.
 */
@Injectable()
export class ChatProxy implements OnApplicationShutdown {
  private readonly logger = new Logger(ChatProxy.name);
  private readonly dispatcher: Agent;

  constructor(
    private readonly services: ServicesService,
    @Inject(chatConfig.KEY) private readonly config: ChatConfig,
  ) {
    // Long generations are normal: the bound is on silence between bytes, not on the total time.
    this.dispatcher = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.idleTimeoutMs,
      bodyTimeout: config.idleTimeoutMs,
    });
  }

  async complete(serviceId: number, body: Record<string, unknown>, response: Response): Promise<void> {
    const hosts = await this.services.hostsOf(serviceId);
    if (hosts.length === 0) throw new BadRequestException('No servers associated with this service');
    const payload = JSON.stringify({ ...body, model: body.model ?? this.config.defaultModel });
    const clientGone = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) clientGone.abort();
    });
    const { upstream, address } = await this.connect(hosts, payload, clientGone.signal);
    if (body.stream === true && upstream.statusCode === 200) {
      const contentType = mediaType(upstream.headers['content-type']);
      if (STREAMABLE_TYPES.test(contentType)) return this.relayStream(upstream, response, clientGone.signal);
      const { text } = await readPrefix(upstream.body);
      return this.answerUpstreamError(response, {
        status: 502,
        code: 'upstream_invalid_body',
        message: `${answered(address, 200)} with ${contentType || 'no content type'} instead of an event stream${quote(text)}`,
      });
    }
    if (upstream.statusCode >= 200 && upstream.statusCode < 300) return this.relayCompletion(upstream, address, response);
    return this.answerUpstreamFailure(upstream, address, response);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.destroy();
  }

  /** A successful upstream answer passes as a 200 when its body is JSON; an empty or non-JSON one is the model server's failure. */
  private async relayCompletion(upstream: Dispatcher.ResponseData, address: string, response: Response): Promise<void> {
    let answer: string;
    try {
      answer = await upstream.body.text();
    } catch (error) {
      if (error instanceof errors.BodyTimeoutError) throw new GatewayTimeoutException(`Model server ${address} stopped sending`);
      throw new BadGatewayException(`Connection failed: ${address}: ${describe(error)}`);
    }
    if (isJson(answer)) {
      response.status(200).type('application/json').send(answer);
      return;
    }
    const problem = answer.trim() === '' ? 'with an empty body' : 'with a body that is not JSON';
    this.answerUpstreamError(response, {
      status: 502,
      code: 'upstream_invalid_body',
      message: `${answered(address, upstream.statusCode)} ${problem}${quote(answer)}`,
    });
  }

  /**
   * A 4xx about the caller's request keeps its status, with the model server's own body when it is an OpenAI error
   * (clients keep its `code` and `type`). Anything else — 401/403/404, redirects, 5xx, odd statuses — is a 502:
   * passed on, it would read as the caller's credentials failing or as a redirect to follow.
   */
  private async answerUpstreamFailure(upstream: Dispatcher.ResponseData, address: string, response: Response): Promise<void> {
    const status = upstream.statusCode;
    const { text, whole } = await readPrefix(upstream.body);
    const openAiMessage = whole ? openAiErrorMessage(text) : undefined;
    const callersFault = status >= 400 && status < 500 && !PROXY_FAULTS.has(status);
    if (callersFault && openAiMessage !== undefined) {
      response.status(status).type('application/json').send(text);
      return;
    }
    const location = status >= 300 && status < 400 ? redirectTarget(upstream.headers.location) : '';
    this.answerUpstreamError(response, {
      status: callersFault ? status : 502,
      code: `upstream_status_${status}`,
      message: `${answered(address, status)}${location}${quote(openAiMessage ?? text)}`,
    });
  }

  private answerUpstreamError(response: Response, { status, code, message }: UpstreamError): void {
    this.logger.warn(message);
    response.status(status).json({ error: { message, type: 'upstream_error', code } });
  }

  /** The first server whose model server accepts the connection; the next one is tried only on a refusal. */
  private async connect(
    hosts: ServiceHost[],
    payload: string,
    signal: AbortSignal,
  ): Promise<{ upstream: Dispatcher.ResponseData; address: string }> {
    const refused: string[] = [];
    for (const host of hosts) {
      const address = `${host.host_ip}:${host.chat_port}`;
      try {
        const url = `http://${host.host_ip.includes(':') ? `[${host.host_ip}]` : host.host_ip}:${host.chat_port}/chat/completions`;
        const upstream = await request(url, {
          method: 'POST',
          dispatcher: this.dispatcher,
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: payload,
          signal,
        });
        return { upstream, address };
      } catch (error) {
        if (errorCode(error) === 'ECONNREFUSED') {
          refused.push(address);
          continue;
        }
        if (error instanceof errors.ConnectTimeoutError || error instanceof errors.HeadersTimeoutError) {
          throw new GatewayTimeoutException(`Model server ${address} did not answer in time`);
        }
        throw new BadGatewayException(`Connection failed: ${address}: ${describe(error)}`);
      }
    }
    throw new BadGatewayException(`Connection failed: connection refused by ${refused.join(', ')}`);
  }

  /**
   * Relays server-sent events line by line as they arrive, normalised to `data: …\n\n` and ending with
   * `data: [DONE]`. A failure mid-stream becomes a final error event; a departed client aborts the upstream.
   */
  private async relayStream(upstream: Dispatcher.ResponseData, response: Response, clientGone: AbortSignal): Promise<void> {
    response.writeHead(200, SSE_HEADERS);
    response.flushHeaders();
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let done = false;
    /** The events of some upstream lines, as one write: one syscall per upstream read, not per event. */
    const forward = async (lines: string[]): Promise<void> => {
      let events = '';
      for (const line of lines) {
        const event = toEvent(line);
        if (event === undefined || done) continue;
        if (event === '[DONE]') done = true;
        events += `data: ${event}\n\n`;
      }
      if (events && !response.write(events)) await once(response, 'drain', { signal: clientGone });
    };
    try {
      for await (const chunk of upstream.body) {
        pending += decoder.write(chunk as Buffer);
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        await forward(lines);
      }
      await forward([pending + decoder.end()]);
    } catch (error) {
      if (clientGone.aborted) return;
      this.logger.warn(`Model server stream failed: ${describe(error)}`);
      const message = error instanceof errors.BodyTimeoutError ? 'Model server stopped sending (idle timeout)' : `Model server stream failed: ${describe(error)}`;
      response.write(`data: ${JSON.stringify({ error: { message, type: 'upstream_error' } })}\n\n`);
    }
    if (!done && !clientGone.aborted) response.write('data: [DONE]\n\n');
    response.end();
  }
}

/** The data of one upstream SSE line; lines sent without the `data: ` prefix get it. Other SSE fields are dropped. */
function toEvent(rawLine: string): string | undefined {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (line.trim() === '') return undefined;
  if (line.startsWith('data:')) return line.slice(5).trimStart();
  if (/^(:|event:|id:|retry:)/.test(line)) return undefined;
  return line;
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

/** At most ERROR_BODY_LIMIT bytes of a body; reading stops (closing the upstream) beyond that or on a failure, keeping what arrived. */
async function readPrefix(body: Dispatcher.ResponseData['body']): Promise<{ text: string; whole: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let whole = true;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > ERROR_BODY_LIMIT) {
        whole = false;
        break;
      }
    }
  } catch {
    whole = false;
  }
  return { text: Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT).toString('utf8'), whole };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
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
  return String(contentType ?? '').split(';')[0].trim().toLowerCase();
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
}

function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
