import { Module } from '@nestjs/common';
import { ServersModule } from '../servers/servers.module';
import { ServicesModule } from '../services/services.module';
import { StatsController } from './stats.controller';
import { StatsService } from './stats.service';

@Module({
  imports: [ServersModule, ServicesModule],
  controllers: [StatsController],
  providers: [StatsService],
})
export class StatsModule {}
