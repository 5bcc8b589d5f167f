import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CredentialVault } from '../../common/credential-vault.service';
import { SshModule } from '../../ssh/ssh.module';
import { AcceleratorCard } from '../inventory/entities/accelerator-card.entity';
import { Brand } from '../inventory/entities/brand.entity';
import { Service } from '../services/service.entity';
import { Task } from '../tasks/task.entity';
import { Server } from './server.entity';
import { ServerHostKeysModule } from './server-host-keys.module';
import { ServersController } from './servers.controller';
import { ServersRepository } from './servers.repository';
import { ServersService } from './servers.service';

@Module({
  imports: [TypeOrmModule.forFeature([Server, Service, Task, Brand, AcceleratorCard]), SshModule, ServerHostKeysModule],
  controllers: [ServersController],
  providers: [ServersRepository, ServersService, CredentialVault],
  exports: [ServersService],
})
export class ServersModule {}
