import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HostKeyStore } from '../../ssh/host-key.store';
import { Server } from './server.entity';
import { ServerHostKeyStore } from './server-host-key.store';

/**
 * The servers' pinned host keys, as SshPool's HostKeyStore. Global because SshModule cannot import it: this feature
 * imports SshModule, and infrastructure depends on no feature.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([Server])],
  providers: [{ provide: HostKeyStore, useClass: ServerHostKeyStore }],
  exports: [HostKeyStore],
})
export class ServerHostKeysModule {}
