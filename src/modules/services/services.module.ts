import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { InventoryModule } from '../inventory/inventory.module';
import { ServersModule } from '../servers/servers.module';
import { AgentClient } from './agent.client';
import { ServiceOperationRecord } from './service-operation.entity';
import { ServiceOperations } from './service-operations.service';
import { ServiceOperationsRepository } from './service-operations.repository';
import { ServiceServer } from './service-server.entity';
import { Service } from './service.entity';
import { ServiceStatusGateway } from './service-status.gateway';
import { ServicesController } from './services.controller';
import { ServicesRepository } from './services.repository';
import { ServicesService } from './services.service';

@Module({
  imports: [TypeOrmModule.forFeature([Service, ServiceServer, ServiceOperationRecord]), ServersModule, InventoryModule],
  controllers: [ServicesController],
  providers: [AgentClient, ServicesRepository, ServiceOperationsRepository, ServicesService, ServiceOperations, ServiceStatusGateway],
  exports: [ServicesService],
})
export class ServicesModule {}
