import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ChatMessage } from './chat-message.entity';
import { SINGLE_ROW } from '../../database/save-options';

@Injectable()
export class ChatRepository {
  constructor(@InjectRepository(ChatMessage) private readonly messages: Repository<ChatMessage>) {}

  /** Oldest first: the conversation in order. */
  list(serviceId: number): Promise<ChatMessage[]> {
    return this.messages.find({ where: { service_id: serviceId }, order: { created_at: 'ASC', id: 'ASC' } });
  }

  add(serviceId: number, role: string, content: string): Promise<ChatMessage> {
    return this.messages.save(this.messages.create({ service_id: serviceId, role, content }), SINGLE_ROW);
  }

  async clear(serviceId: number): Promise<void> {
    await this.messages.delete({ service_id: serviceId });
  }
}
