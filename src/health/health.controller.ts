import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { Public } from '../modules/auth/access.decorators';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RedisConnections } from '../cluster/redis-connections';
import { ApiErrors } from '../common/decorators/api-errors.decorator';
import { DatabaseHealthService } from '../database/database-health.service';
import { HealthResponse } from './health-response.dto';

const DATABASE_PROBE_TIMEOUT_MS = 2000;

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly database: DatabaseHealthService,
    private readonly redis: RedisConnections,
  ) {}

  /** Liveness and database reachability; 503 when the database does not answer. Redis is reported, not required. */
  @Get()
  @ApiOkResponse({ type: HealthResponse })
  @ApiErrors(503)
  async getHealth(): Promise<HealthResponse> {
    if (!(await this.database.isUp(DATABASE_PROBE_TIMEOUT_MS))) throw new ServiceUnavailableException('Database unavailable');
    return { status: 'ok', db: 'up', redis: this.redis.status() };
  }
}
