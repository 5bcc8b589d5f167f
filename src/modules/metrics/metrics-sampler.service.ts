import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pLimit from 'p-limit';
import { metricsConfig, MetricsConfig } from '../../config/configuration';
import { ResourcesResponse } from '../servers/dto/server.dto';
import { ServersService } from '../servers/servers.service';
import { rollUp } from './series';
import { CardSample } from './server-sample.entity';
import { SampleValues } from './server-sample.entity';
import { ServerSamplesRepository } from './server-samples.repository';

/** The roll-up bucket: raw samples past METRICS_RAW_HOURS become one average per server and five minutes. */
export const ROLLUP_BUCKET_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;

/**
 * Measures every server every METRICS_INTERVAL_SECONDS over the SSH pool (bounded, never overlapping itself) and
 * keeps the history. Each server's slot is claimed in the database first, so instances sharing it sample once.
 */
@Injectable()
export class MetricsSampler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsSampler.name);
  private timer?: NodeJS.Timeout;
  private sampling = false;
  private compactedAt = 0;

  constructor(
    private readonly servers: ServersService,
    private readonly samples: ServerSamplesRepository,
    @Inject(metricsConfig.KEY) private readonly config: MetricsConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.intervalSeconds === 0) return;
    this.timer = setInterval(() => void this.sampleAll(), this.config.intervalSeconds * 1000);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Samples every server in the slot `now` falls into, then compacts the history (at most once per bucket). */
  async sampleAll(now = new Date()): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const intervalMs = Math.max(1, this.config.intervalSeconds) * 1000;
      const slot = new Date(Math.floor(now.getTime() / intervalMs) * intervalMs);
      const limit = pLimit(this.config.concurrency);
      const servers = await this.servers.list();
      await Promise.all(servers.map((server) => limit(() => this.sample(server.id, slot))));
      if (now.getTime() - this.compactedAt >= ROLLUP_BUCKET_MS) {
        await this.compact(now);
        this.compactedAt = now.getTime();
      }
    } catch (error) {
      this.logger.error(`Metrics sampling failed: ${String(error)}`);
    } finally {
      this.sampling = false;
    }
  }

  private async sample(serverId: number, slot: Date): Promise<void> {
    const claimed = await this.samples.claimSlot(serverId, slot);
    if (claimed === null) return;
    const measured = await this.servers.resources(serverId).catch((error: Error): ResourcesResponse => ({
      cpu_usage: null,
      memory_usage: null,
      disk_usage: null,
      error: error.message,
    }));
    await this.samples.record(claimed, sampleValues(measured));
  }

  /** Raw samples past METRICS_RAW_HOURS become five-minute averages; averages past METRICS_HISTORY_DAYS go. */
  private async compact(now: Date): Promise<void> {
    // Whole buckets only: a bucket averaged before its last raw sample was past the cut would lose that sample.
    const rawCut = Math.floor((now.getTime() - this.config.rawHours * HOUR_MS) / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
    const expired = await this.samples.findRawBefore(new Date(rawCut));
    if (expired.length > 0)
      await this.samples.rollUp(
        rollUp(expired, ROLLUP_BUCKET_MS),
        expired.map((sample) => sample.id),
      );
    await this.samples.deleteRolledUpBefore(new Date(now.getTime() - this.config.historyDays * 24 * HOUR_MS));
  }
}

/** A measurement as a sample stores it: an error means the server did not answer. */
export function sampleValues(measured: ResourcesResponse): SampleValues {
  const cards: CardSample[] = (measured.gpus ?? []).map((card) => ({
    i: card.index,
    v: card.vendor,
    n: card.name,
    u: card.utilization,
    mu: card.memory_used,
    mt: card.memory_total,
    t: card.temperature,
    p: card.power_draw,
  }));
  return {
    online: measured.error ? 0 : 1,
    cpu_usage: measured.cpu_usage,
    memory_usage: measured.memory_usage,
    disk_usage: measured.disk_usage,
    cards: cards.length > 0 ? cards : null,
  };
}
