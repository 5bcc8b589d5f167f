import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ServerMetricsSource } from '../../observability/server-metrics-source';
import { ServersModule } from '../servers/servers.module';
import { LatestSamples } from './latest-samples';
import { MetricsController } from './metrics.controller';
import { MetricsSampler } from './metrics-sampler.service';
import { MetricsService } from './metrics.service';
import { ServerSample } from './server-sample.entity';
import { ServerSamplesRepository } from './server-samples.repository';

/** The metric history of the fleet; global, so that the Prometheus exporter finds its ServerMetricsSource. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ServerSample]), ServersModule],
  controllers: [MetricsController],
  providers: [ServerSamplesRepository, MetricsService, MetricsSampler, LatestSamples, { provide: ServerMetricsSource, useExisting: LatestSamples }],
  exports: [ServerMetricsSource],
})
export class MetricsModule {}
