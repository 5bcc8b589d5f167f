import { Module } from '@nestjs/common';
import { AuthModule } from '../modules/auth/auth.module';
import { SocketAccessMonitor } from './socket-access.monitor';

/** What every Socket.IO feature shares: the periodic re-check of the callers of open sockets. */
@Module({
  imports: [AuthModule],
  providers: [SocketAccessMonitor],
  exports: [SocketAccessMonitor],
})
export class RealtimeModule {}
