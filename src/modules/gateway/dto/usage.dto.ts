import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { MAX_INT32 } from '../../../common/decorators/fields';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class UsageQuery {
  /** First day (UTC, `YYYY-MM-DD`), inclusive; default: 29 days before `to`. */
  @ApiPropertyOptional({ type: String, format: 'date', example: '2026-11-01' })
  @IsOptional()
  @Matches(DAY, { message: 'from must be a day, YYYY-MM-DD' })
  from?: string;

  /** Last day (UTC, `YYYY-MM-DD`), inclusive; default: today. */
  @ApiPropertyOptional({ type: String, format: 'date', example: '2026-11-30' })
  @IsOptional()
  @Matches(DAY, { message: 'to must be a day, YYYY-MM-DD' })
  to?: string;

  /** Only this API token's usage. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_INT32)
  token_id?: number;

  /** Only this model name (as requested: an alias is its own name). */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  model?: string;
}

export class UsageCounts {
  /** Calls routed to a model server, answered or not. */
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export class UsageEntry extends UsageCounts {
  @ApiProperty({ type: String, format: 'date' })
  day: string;
  /** The caller; null with authentication off. */
  @ApiProperty({ type: 'integer', nullable: true })
  user_id: number | null;
  /** Null when the user is gone. */
  @ApiProperty({ type: String, nullable: true })
  username: string | null;
  /** The API token; null for calls made from a signed-in session. */
  @ApiProperty({ type: 'integer', nullable: true })
  token_id: number | null;
  /** Null when there was no token, or it has been revoked. */
  @ApiProperty({ type: String, nullable: true })
  token_name: string | null;
  model: string;
}

export class UsageReport {
  @ApiProperty({ type: String, format: 'date' })
  from: string;
  @ApiProperty({ type: String, format: 'date' })
  to: string;
  /** The sums of `entries`. */
  totals: UsageCounts;
  /** One per day, caller, token and model with calls, by day. */
  @ApiProperty({ type: [UsageEntry] })
  entries: UsageEntry[];
}
