import { Global, Module } from '@nestjs/common';
import { ClusterBus } from './cluster-bus';
import { RedisConnections } from './redis-connections';

/** What several instances on one database share through Redis (REDIS_URL); inert without it. */
@Global()
@Module({
  providers: [RedisConnections, ClusterBus],
  exports: [RedisConnections, ClusterBus],
})
export class ClusterModule {}
