import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { ErrorResponse } from '../common/dto/responses.dto';
import { ScrapeAccess } from './metrics-access.guard';
import { MetricsExporter } from './metrics-exporter.service';

/** Outside the `/api` prefix (see configureApp), where Prometheus looks by default. */
@ApiTags('monitoring')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly exporter: MetricsExporter) {}

  /** Prometheus metrics of the fleet and of this backend. */
  @Get()
  @ScrapeAccess()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    description:
      'The Prometheus text exposition format (0.0.4): the latest sample of every server and accelerator card, HTTP ' +
      'latencies by route template, the SSH pool, task runs, terminals, chat streams, agent calls and the process. ' +
      "Takes any user's token (a viewer's will do) or, as a bearer token, the static `METRICS_TOKEN`.",
  })
  @ApiOkResponse({ description: 'The metrics', content: { [Registry.PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string' } } } })
  @ApiUnauthorizedResponse({ description: 'No token, an invalid, expired or revoked one, and not METRICS_TOKEN', type: ErrorResponse })
  scrapeMetrics(): Promise<string> {
    return this.exporter.scrape();
  }
}
