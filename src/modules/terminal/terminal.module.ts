import { Module } from '@nestjs/common';
import { RealtimeModule } from '../../realtime/realtime.module';
import { SshModule } from '../../ssh/ssh.module';
import { AuthModule } from '../auth/auth.module';
import { ServersModule } from '../servers/servers.module';
import { TerminalGateway } from './terminal.gateway';

/** The browser terminal: a feature on top of SshModule, with the servers' credentials, sign-in and the audit trail. */
@Module({
  imports: [SshModule, ServersModule, AuthModule, RealtimeModule],
  providers: [TerminalGateway],
})
export class TerminalModule {}
