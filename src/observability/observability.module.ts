import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Registry } from 'prom-client';
import { SshModule } from '../ssh/ssh.module';
import { BackendMetrics } from './backend-metrics.service';
import { FleetMetrics } from './fleet-metrics';
import { MetricsAccessGuard } from './metrics-access.guard';
import { createMetricsRegistry } from './metrics-registry';
import { MetricsController } from './metrics.controller';
import { MetricsExporter } from './metrics-exporter.service';
import { observabilityConfig } from './observability.config';
import { SshPoolMetrics } from './ssh-pool.metrics';

/**
 * Prometheus: `GET /metrics` and the metrics behind it. Global, so that features inject BackendMetrics where their
 * events happen without importing this module; the fleet's samples come from a global ServerMetricsSource.
 */
@Global()
@Module({
  imports: [ConfigModule.forFeature(observabilityConfig), SshModule],
  controllers: [MetricsController],
  providers: [
    { provide: Registry, useFactory: createMetricsRegistry },
    BackendMetrics,
    FleetMetrics,
    SshPoolMetrics,
    MetricsExporter,
    MetricsAccessGuard,
  ],
  exports: [Registry, BackendMetrics],
})
export class ObservabilityModule {}
