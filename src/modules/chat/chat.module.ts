import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ServicesModule } from '../services/services.module';
import { ChatMessage } from './chat-message.entity';
import { ChatController } from './chat.controller';
import { ChatRepository } from './chat.repository';
import { ChatService } from './chat.service';
import { ModelServerProxy } from './model-server-proxy.service';
import { ModelServerClient } from './model-server.client';
import { OpenAiController } from './openai.controller';

@Module({
  imports: [TypeOrmModule.forFeature([ChatMessage]), ServicesModule],
  controllers: [ChatController, OpenAiController],
  providers: [ChatRepository, ChatService, ModelServerClient, ModelServerProxy],
  exports: [ModelServerProxy],
})
export class ChatModule {}
