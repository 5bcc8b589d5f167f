import { ApiProperty } from '@nestjs/swagger';

/** A 200 means both: the process answers and the database does (otherwise 503). */
export class HealthResponse {
  @ApiProperty({ enum: ['ok'], description: 'The process answers' })
  status: 'ok';

  @ApiProperty({ enum: ['up'], description: 'The database answered a probe query in time' })
  db: 'up';
}
