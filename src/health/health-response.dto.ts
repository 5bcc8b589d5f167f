import { ApiProperty } from '@nestjs/swagger';
import type { RedisStatus } from '../cluster/redis-connections';

/** A 200 means both: the process answers and the database does (otherwise 503). */
export class HealthResponse {
  @ApiProperty({ enum: ['ok'], description: 'The process answers' })
  status: 'ok';

  @ApiProperty({ enum: ['up'], description: 'The database answered a probe query in time' })
  db: 'up';

  @ApiProperty({
    enum: ['up', 'down', 'off'],
    description:
      'Redis (REDIS_URL): every connection ready, or not (events and limits then reach this instance only), or not ' +
      'configured. Not a condition of the 200: the instance serves without it.',
  })
  redis: RedisStatus;
}
