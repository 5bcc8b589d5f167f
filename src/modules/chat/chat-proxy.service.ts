import {
  BadGatewayException,
  BadRequestException,
  GatewayTimeoutException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { Response } from 'express';
import { once } from 'node:events';
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
    if (upstream.statusCode !== 200) {
      const text = await upstream.body.text().catch(() => '');
      throw new HttpException(`API request failed: ${upstream.statusCode} ${text.slice(0, 500)}`.trim(), upstream.statusCode);
    }
    if (body.stream === true) return this.relayStream(upstream, response, clientGone.signal);
    let answer: string;
    try {
      answer = await upstream.body.text();
    } catch (error) {
      if (error instanceof errors.BodyTimeoutError) throw new GatewayTimeoutException(`Model server ${address} stopped sending`);
      throw new BadGatewayException(`Connection failed: ${address}: ${describe(error)}`);
    }
    response.status(200).type('application/json').send(answer);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.destroy();
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

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string })?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
}

function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
