import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ServicesModule } from '../services/services.module';
import { ChatMessage } from './chat-message.entity';
import { ChatProxy } from './chat-proxy.service';
import { ChatController } from './chat.controller';
import { ChatRepository } from './chat.repository';
import { ChatService } from './chat.service';

@Module({
  imports: [TypeOrmModule.forFeature([ChatMessage]), ServicesModule],
  controllers: [ChatController],
  providers: [ChatRepository, ChatService, ChatProxy],
})
export class ChatModule {}
