import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { ChatService } from './chat.service';
import { ChatMessageResponse, CreateChatMessageDto } from './dto/chat.dto';

/** The stored conversation of a service; its completions are in OpenAiController. */
@ApiTags('chat')
@Controller('services/:id/chat')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

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
}
