import { Body, Controller, Delete, Get, Param, Post, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { ChatProxy } from './chat-proxy.service';
import { ChatRequestPipe } from './chat-request.pipe';
import { ChatService } from './chat.service';
import { ChatCompletionRequest, ChatMessageResponse, CreateChatMessageDto } from './dto/chat.dto';

@ApiTags('chat')
@Controller('services/:id/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly proxy: ChatProxy,
  ) {}

  /** The service's chat history, oldest first. */
  @Get()
  @ApiOkResponse({ type: [ChatMessageResponse] })
  @ApiErrors(400, 404)
  listChatMessages(@Param('id', ParseIdPipe) id: number): Promise<ChatMessageResponse[]> {
    return this.chat.history(id);
  }

  /** Stores a message of the conversation. */
  @Post()
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400, 404)
  async addChatMessage(@Param('id', ParseIdPipe) id: number, @Body() dto: CreateChatMessageDto): Promise<CreatedResponse> {
    const message = await this.chat.add(id, dto);
    return { id: message.id, message: 'Message added successfully' };
  }

  /** Clears the service's chat history. */
  @Delete()
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async clearChatMessages(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.chat.clear(id);
    return { message: 'Chat history cleared successfully' };
  }

  /**
   * OpenAI-compatible chat completions, proxied to `http://<host_ip>:<chat_port>/chat/completions` of the
   * service's first server that accepts the connection. With `stream: true` the answer is server-sent events
   * (`data: <chunk>` … `data: [DONE]`) relayed as they arrive, when the model server answers 200 with an event stream
   * or JSON lines. Its other answers, streamed or not, get a plain JSON answer:
   * - a 2xx with a JSON body → 200 with that body;
   * - a 4xx other than 401/403/404 → the same status, with the model server's body when it is an OpenAI error
   *   `{error: {message, …}}` of at most 64 KiB (clients keep its `code` and `type`), else the error below;
   * - 401/403/404 (the model server's own credentials or path, not the caller's), 3xx, 5xx, any other status → 502;
   * - a 204 or another 2xx whose body is empty or not JSON, or (streamed) a 200 that is neither an event stream
   *   nor JSON → 502.
   * The error for the model server's answer is OpenAI-shaped, `{error: {message, type: "upstream_error", code}}`, with
   * code `upstream_status_<status>` (`upstream_invalid_body` for the 2xx cases) and a message naming the model server,
   * its status and at most 200 characters of its body, without markup or control characters. Not reaching the model
   * server gives the usual `{statusCode, error}`: unreachable → 502, no answer in time → 504.
   */
  @Post('completions')
  @ApiBody({ type: ChatCompletionRequest })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ description: 'The model server\'s answer: a chat.completion object, or an event stream of chunks' , schema: { type: 'object', additionalProperties: true } })
  @ApiErrors(400, 404, 502, 504)
  createChatCompletion(
    @Param('id', ParseIdPipe) id: number,
    @Body(ChatRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.proxy.complete(id, body, response);
  }
}
