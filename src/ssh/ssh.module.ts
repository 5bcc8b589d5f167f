import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Server } from '../modules/servers/server.entity';
import { HostKeyStore } from './host-key.store';
import { SshExecutor } from './ssh-executor.service';
import { SshPool } from './ssh-pool.service';

/** SSH shared by every feature that talks to a server: the connection pool and the command executor. */
@Module({
  imports: [TypeOrmModule.forFeature([Server])],
  providers: [HostKeyStore, SshPool, SshExecutor],
  exports: [SshPool, SshExecutor],
})
export class SshModule {}
