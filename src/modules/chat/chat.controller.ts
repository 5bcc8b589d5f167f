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
   * (`data: <chunk>` … `data: [DONE]`) relayed as they arrive. Upstream errors keep their status with
   * `{error: "API request failed: …"}`; unreachable → 502, no answer in time → 504.
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
