import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Model } from '../inventory/entities/model.entity';
import { Server } from '../servers/server.entity';
import { AgentClient } from './agent.client';
import { ServiceOperationRecord } from './service-operation.entity';
import { ServiceOperations } from './service-operations.service';
import { ServiceOperationsRepository } from './service-operations.repository';
import { Service } from './service.entity';
import { ServiceStatusGateway } from './service-status.gateway';
import { ServicesController } from './services.controller';
import { ServicesRepository } from './services.repository';
import { ServicesService } from './services.service';

@Module({
  imports: [TypeOrmModule.forFeature([Service, ServiceOperationRecord, Server, Model])],
  controllers: [ServicesController],
  providers: [AgentClient, ServicesRepository, ServiceOperationsRepository, ServicesService, ServiceOperations, ServiceStatusGateway],
  exports: [ServicesService],
})
export class ServicesModule {}
