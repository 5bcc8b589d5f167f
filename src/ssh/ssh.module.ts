import { Module } from '@nestjs/common';
import { SshExecutor } from './ssh-executor.service';
import { SshPool } from './ssh-pool.service';

/**
 * SSH shared by every feature that talks to a server: the connection pool and the command executor. The pool's
 * HostKeyStore comes from the servers feature (a global provider), so that this module depends on no feature.
 */
@Module({
  providers: [SshPool, SshExecutor],
  exports: [SshPool, SshExecutor],
})
export class SshModule {}
