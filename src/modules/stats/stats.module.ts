import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Server } from '../servers/server.entity';
import { Service } from '../services/service.entity';
import { StatsController } from './stats.controller';
import { StatsRepository } from './stats.repository';
import { StatsService } from './stats.service';

@Module({
  imports: [TypeOrmModule.forFeature([Server, Service])],
  controllers: [StatsController],
  providers: [StatsRepository, StatsService],
})
export class StatsModule {}
