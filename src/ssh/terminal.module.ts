import { Module } from '@nestjs/common';
import { AuthModule } from '../modules/auth/auth.module';
import { RealtimeModule } from '../realtime/realtime.module';
import { ServersModule } from '../modules/servers/servers.module';
import { SshModule } from './ssh.module';
import { TerminalGateway } from './terminal.gateway';

/** The browser terminal; apart from SshModule because it needs the servers' credentials. */
@Module({
  imports: [SshModule, ServersModule, AuthModule, RealtimeModule],
  providers: [TerminalGateway],
})
export class TerminalModule {}
