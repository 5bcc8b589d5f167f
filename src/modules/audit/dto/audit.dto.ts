import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsoDateTime } from '../../../common/decorators/fields';

export const AUDIT_PAGE_MAX = 500;

export class AuditQuery {
  /** Only this user's events. */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  user?: string;

  /** An action (`task.execute`), or a prefix ending with a dot (`auth.`). */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  action?: string;

  /** Events at or after this instant (ISO 8601). */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  from?: Date;

  /** Events at or before this instant (ISO 8601). */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  to?: Date;

  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: AUDIT_PAGE_MAX, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_PAGE_MAX)
  per_page: number = 50;
}

export class AuditEventResponse {
  id: number;
  @ApiProperty({ type: String, format: 'date-time' })
  at: Date;
  /** Username, or null for an unknown caller (a failed login of a non-existent user names it in detail). */
  @ApiProperty({ type: String, nullable: true })
  user: string | null;
  @ApiProperty({ type: String, nullable: true })
  ip: string | null;
  action: string;
  @ApiProperty({ type: String, nullable: true })
  target: string | null;
  @ApiProperty({ type: Object, nullable: true })
  detail: Record<string, unknown> | null;
}

export class AuditPageResponse {
  @ApiProperty({ type: [AuditEventResponse] })
  events: AuditEventResponse[];
  total: number;
  page: number;
  per_page: number;
}
