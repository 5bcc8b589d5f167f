import { Injectable } from '@nestjs/common';
import { Registry } from 'prom-client';
import { FleetMetrics } from './fleet-metrics';

/** What `GET /metrics` answers: every metric of the application's registry, the fleet's read afresh. */
@Injectable()
export class MetricsExporter {
  constructor(
    private readonly registry: Registry,
    private readonly fleet: FleetMetrics,
  ) {}

  async scrape(): Promise<string> {
    await this.fleet.refresh();
    return this.registry.metrics();
  }
}
