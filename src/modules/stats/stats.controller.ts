import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { StatsResponse } from './stats-response.dto';
import { StatsService } from './stats.service';
import { HotRead } from '../../hot-reads/hot-read.decorator';

@ApiTags('stats')
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  /** Overview counts for the dashboard. */
  @Get()
  @HotRead()
  @ApiOkResponse({ type: StatsResponse })
  getStats(): Promise<StatsResponse> {
    return this.stats.overview();
  }
}
