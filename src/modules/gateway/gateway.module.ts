import { Module } from '@nestjs/common';
import { ChatModule } from '../chat/chat.module';
import { ServicesModule } from '../services/services.module';
import { GatewayController } from './gateway.controller';
import { GatewayService } from './gateway.service';

@Module({
  imports: [ChatModule, ServicesModule],
  controllers: [GatewayController],
  providers: [GatewayService],
})
export class GatewayModule {}
