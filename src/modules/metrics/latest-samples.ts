import { Injectable } from '@nestjs/common';
import { LatestServerSample, ServerMetricsSource } from '../../observability/server-metrics-source';
import { ServersService } from '../servers/servers.service';
import { ServerSamplesRepository } from './server-samples.repository';

/** Each server's newest sample, named: for `GET /api/servers/metrics/latest` and the Prometheus exporter. */
@Injectable()
export class LatestSamples extends ServerMetricsSource {
  constructor(
    private readonly samples: ServerSamplesRepository,
    private readonly servers: ServersService,
  ) {
    super();
  }

  async latest(): Promise<LatestServerSample[]> {
    const [samples, servers] = await Promise.all([this.samples.latest(), this.servers.list()]);
    const names = new Map(servers.map((server) => [server.id, server.name]));
    return samples
      .filter((sample) => names.has(sample.server_id))
      .map((sample) => ({
        server_id: sample.server_id,
        server_name: names.get(sample.server_id)!,
        taken_at: sample.taken_at,
        online: sample.online === 1,
        cpu_usage: sample.cpu_usage,
        memory_usage: sample.memory_usage,
        disk_usage: sample.disk_usage,
        cards: (sample.cards ?? []).map((card) => ({
          index: card.i,
          vendor: card.v,
          name: card.n,
          utilization: card.u,
          memory_used: card.mu,
          memory_total: card.mt,
          temperature: card.t,
          power_draw: card.p,
        })),
      }));
  }
}
