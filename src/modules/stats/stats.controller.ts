import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HotRead } from '../../common/decorators/hot-read.decorator';
import { JsonObjectResponse, sendCachedJson } from '../../common/decorators/json-text.decorator';
import { StatsResponse } from './stats-response.dto';
import { StatsService } from './stats.service';

@ApiTags('stats')
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  /** Overview counts for the dashboard. */
  @Get()
  @HotRead()
  @JsonObjectResponse(StatsResponse)
  getStats(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    return sendCachedJson(request, response, this.stats.overviewJson());
  }
}
