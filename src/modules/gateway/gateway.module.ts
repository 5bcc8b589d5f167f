import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { ChatModule } from '../chat/chat.module';
import { ServicesModule } from '../services/services.module';
import { GatewayUsage } from './gateway-usage.entity';
import { GatewayUsageRepository } from './gateway-usage.repository';
import { GatewayUsageService } from './gateway-usage.service';
import { GatewayController } from './gateway.controller';
import { GatewayService } from './gateway.service';
import { TokenRateLimits } from './token-rate-limits';
import { UsageController } from './usage.controller';

@Module({
  imports: [TypeOrmModule.forFeature([GatewayUsage]), AuthModule, ChatModule, ServicesModule],
  controllers: [GatewayController, UsageController],
  providers: [GatewayService, GatewayUsageRepository, GatewayUsageService, TokenRateLimits],
})
export class GatewayModule {}
