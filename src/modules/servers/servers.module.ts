import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CredentialVault } from '../../common/credential-vault.service';
import { SshModule } from '../../ssh/ssh.module';
import { InventoryModule } from '../inventory/inventory.module';
import { Server } from './server.entity';
import { ServerHostKeysModule } from './server-host-keys.module';
import { ServersController } from './servers.controller';
import { ServersRepository } from './servers.repository';
import { ServersService } from './servers.service';

@Module({
  imports: [TypeOrmModule.forFeature([Server]), SshModule, ServerHostKeysModule, InventoryModule],
  controllers: [ServersController],
  providers: [ServersRepository, ServersService, CredentialVault],
  exports: [ServersService],
})
export class ServersModule {}
