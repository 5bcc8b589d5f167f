import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { LatestSampleResponse, MetricSeriesResponse, MetricsQuery } from './dto/metrics.dto';
import { LatestSamples } from './latest-samples';
import { MetricsService } from './metrics.service';

@ApiTags('servers')
@Controller('servers')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly latestSamples: LatestSamples,
  ) {}

  /** The newest sample the metrics sampler took of every server (METRICS_INTERVAL_SECONDS). */
  @Get('metrics/latest')
  @ApiOkResponse({ type: [LatestSampleResponse] })
  getLatestMetrics(): Promise<LatestSampleResponse[]> {
    return this.latestSamples.latest();
  }

  /**
   * A server's metric history as plot-ready series: CPU, memory, disk, reachability and every accelerator, one
   * average per `step` from `from` to `to`. Raw samples are kept METRICS_RAW_HOURS, five-minute averages METRICS_HISTORY_DAYS.
   */
  @Get(':id/metrics')
  @ApiOkResponse({ type: MetricSeriesResponse })
  @ApiErrors(400, 404)
  getServerMetrics(@Param('id', ParseIdPipe) id: number, @Query() query: MetricsQuery): Promise<MetricSeriesResponse> {
    return this.metrics.history(id, query);
  }
}
