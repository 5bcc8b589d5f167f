import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { ServicesService } from '../services/services.service';
import { ChatMessage } from './chat-message.entity';
import { ChatRepository } from './chat.repository';
import { CreateChatMessageDto } from './dto/chat.dto';
import { AuditService } from '../audit/audit.service';

/** A service's stored conversation. */
@Injectable()
export class ChatService {
  constructor(
    private readonly messages: ChatRepository,
    private readonly services: ServicesService,
    private readonly audit: AuditService,
    @Inject(chatConfig.KEY) private readonly config: ChatConfig,
  ) {}

  async history(serviceId: number): Promise<ChatMessage[]> {
    await this.services.get(serviceId);
    return this.messages.list(serviceId);
  }

  async add(serviceId: number, dto: CreateChatMessageDto): Promise<ChatMessage> {
    await this.services.get(serviceId);
    // Characters, not UTF-16 units: an emoji counts once.
    if ([...dto.content].length > this.config.messageMaxChars) {
      throw new BadRequestException(`content is longer than ${this.config.messageMaxChars} characters`);
    }
    return this.messages.add(serviceId, dto.role, dto.content);
  }

  async clear(serviceId: number): Promise<void> {
    await this.services.get(serviceId);
    await this.messages.clear(serviceId);
    await this.audit.record({ action: 'chat_history.delete', target: `service:${serviceId}` });
  }
}
