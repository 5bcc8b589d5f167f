import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../modules/auth/auth.module';
import { HotReadLane } from './hot-read-lane';

@Module({
  imports: [DiscoveryModule, AuthModule],
  providers: [HotReadLane],
  exports: [HotReadLane],
})
export class HotReadsModule {}
