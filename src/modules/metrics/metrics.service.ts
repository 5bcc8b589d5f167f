import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { metricsConfig, MetricsConfig } from '../../config/configuration';
import { ServersService } from '../servers/servers.service';
import { MetricsQuery } from './dto/metrics.dto';
import { MetricSeries, toSeries } from './series';
import { ServerSamplesRepository } from './server-samples.repository';

/** Points a default step aims at: enough for a plot's width. */
const DEFAULT_POINTS = 360;
/** Points one answer may hold: a week at one minute is 10,080. */
const MAX_POINTS = 20_000;
const DEFAULT_RANGE_MS = 3_600_000;

@Injectable()
export class MetricsService {
  constructor(
    private readonly servers: ServersService,
    private readonly samples: ServerSamplesRepository,
    @Inject(metricsConfig.KEY) private readonly config: MetricsConfig,
  ) {}

  async history(serverId: number, query: MetricsQuery): Promise<MetricSeries> {
    await this.servers.get(serverId);
    const to = query.to ?? new Date();
    const from = query.from ?? new Date(to.getTime() - DEFAULT_RANGE_MS);
    const rangeSeconds = (to.getTime() - from.getTime()) / 1000;
    if (rangeSeconds <= 0) throw new BadRequestException('from must be before to');
    const step = query.step ?? Math.max(this.config.intervalSeconds || 30, Math.ceil(rangeSeconds / DEFAULT_POINTS));
    const points = Math.ceil(rangeSeconds / step);
    if (points > MAX_POINTS) {
      throw new BadRequestException(`from..to at step ${step} s is ${points} points; at most ${MAX_POINTS}: use a larger step or a shorter range`);
    }
    return toSeries(await this.samples.findRange(serverId, from, to), from, to, step);
  }
}
