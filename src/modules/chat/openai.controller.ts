import { Body, Controller, Get, Param, Post, Res, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiResponseNoStatusOptions, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest, OpenAiModel, OpenAiModelList } from './dto/openai.dto';
import { ModelServerProxy } from './model-server-proxy.service';
import { ApiOpenAiErrors } from './openai-errors';
import { OpenAiExceptionFilter } from './openai-exception.filter';
import { ChatCompletionRequestPipe, CompletionRequestPipe, EmbeddingRequestPipe } from './openai-request.pipes';

export const OPENAI_JSON_OBJECT = { type: 'object', additionalProperties: true } as const;

/** A JSON answer, or with `stream: true` server-sent events. */
export function jsonOrEvents(description: string): ApiResponseNoStatusOptions {
  return {
    description,
    content: {
      'application/json': { schema: OPENAI_JSON_OBJECT },
      'text/event-stream': { schema: { type: 'string', example: 'data: {"choices":[…]}\n\ndata: [DONE]\n\n' } },
    },
  };
}

/**
 * The OpenAI-compatible API of a service (an `openai` client's baseURL is `/api/services/<id>`), answered by the model
 * server of the service's first server that accepts the connection, at `http://<host_ip>:<chat_port>/v1/…` (or, when
 * that path is 404, at the same path without `/v1`). Every error here, the 401 and 403 of the guards included, is in
 * OpenAI's shape `{error: {message, type, code, param}}`.
 */
@ApiTags('chat')
@UseFilters(OpenAiExceptionFilter)
@Controller('services/:id')
export class OpenAiController {
  constructor(private readonly proxy: ModelServerProxy) {}

  /**
   * OpenAI-compatible chat completions, answered by the service's model server.
   *
   * @remarks `model` defaults to CHAT_DEFAULT_MODEL; every other field passes through. With `stream: true` the answer is
   * server-sent events (`data: <chunk>` … `data: [DONE]`) relayed as they arrive, when the model server answers 200 with
   * an event stream or JSON lines; a failure mid-stream ends it with a `data: {"error": …}` event, then `[DONE]`.
   * Otherwise: a 2xx with a JSON body → 200 with that body; a 4xx other than 401/403/404 → the same status, with the
   * model server's body when it is an OpenAI error of at most 64 KiB; 401/403/404 (the model server's own credentials
   * or path, not the caller's), 3xx, 5xx and any other status → 502; a 204 or another 2xx whose body is empty or not
   * JSON, or (streamed) a 200 that is neither an event stream nor JSON → 502. Those errors have type `upstream_error`
   * and code `upstream_status_<status>` (`upstream_invalid_body` for the 2xx cases), and a message naming the model
   * server, its status and at most 200 characters of its body. Unreachable → 502 `upstream_unreachable`; no answer
   * within CHAT_IDLE_TIMEOUT_MS → 504 `upstream_timeout`.
   */
  @Post('chat/completions')
  @ApiBody({ type: ChatCompletionRequest })
  @ApiOkResponse(jsonOrEvents('A chat.completion object, or with `stream: true` its chat.completion.chunk events'))
  @ApiOpenAiErrors(400, 401, 403, 404, 502, 504)
  createChatCompletion(
    @Param('id', ParseIdPipe) id: number,
    @Body(ChatCompletionRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.proxy.relay(id, '/chat/completions', body, response);
  }

  /**
   * OpenAI-compatible (text) completions, answered by the service's model server.
   *
   * @remarks Relayed like chat completions, streamed with `stream: true`.
   */
  @Post('completions')
  @ApiBody({ type: CompletionRequest })
  @ApiOkResponse(jsonOrEvents('A text_completion object, or with `stream: true` its chunks as events'))
  @ApiOpenAiErrors(400, 401, 403, 404, 502, 504)
  createCompletion(
    @Param('id', ParseIdPipe) id: number,
    @Body(CompletionRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.proxy.relay(id, '/completions', body, response);
  }

  /**
   * OpenAI-compatible embeddings, answered by the service's model server.
   *
   * @remarks Relayed like a non-streamed chat completion; `encoding_format` (the `openai` client asks for base64) passes through.
   */
  @Post('embeddings')
  @ApiBody({ type: EmbeddingRequest })
  @ApiOkResponse({ description: 'A list of embeddings', content: { 'application/json': { schema: OPENAI_JSON_OBJECT } } })
  @ApiOpenAiErrors(400, 401, 403, 404, 502, 504)
  createEmbedding(
    @Param('id', ParseIdPipe) id: number,
    @Body(EmbeddingRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.proxy.relay(id, '/embeddings', body, response);
  }

  /**
   * The models the service serves.
   *
   * @remarks The model server's own list (`GET /v1/models`), when it answers one within CHAT_CONNECT_TIMEOUT_MS;
   * otherwise the service's model and CHAT_DEFAULT_MODEL.
   */
  @Get('models')
  @ApiOkResponse({ type: OpenAiModelList })
  @ApiOpenAiErrors(400, 401, 404)
  listServiceModels(@Param('id', ParseIdPipe) id: number): Promise<OpenAiModelList> {
    return this.proxy.models(id);
  }

  /**
   * One of the models the service serves.
   *
   * @remarks As listServiceModels lists them; 404 `model_not_found` for any other.
   */
  @Get('models/:model')
  @ApiOkResponse({ type: OpenAiModel })
  @ApiOpenAiErrors(400, 401, 404)
  retrieveServiceModel(@Param('id', ParseIdPipe) id: number, @Param('model') model: string): Promise<OpenAiModel> {
    return this.proxy.model(id, model);
  }
}
