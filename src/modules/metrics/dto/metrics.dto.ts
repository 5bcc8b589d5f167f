import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsoDateTime } from '../../../common/decorators/fields';
import { ACCELERATOR_VENDORS, AcceleratorVendor } from '../../servers/accelerators/accelerator-metrics';

export class MetricsQuery {
  /** Start of the range (ISO 8601); default one hour before `to`. */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  from?: Date;

  /** End of the range (ISO 8601, excluded); default now. */
  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsoDateTime()
  to?: Date;

  /** Seconds per point; each point averages the samples of its step. Default: the sampling interval, or coarser to keep 360 points at most. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 86400 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(86_400)
  step?: number;
}

export class CardSeriesResponse {
  index: number;
  @ApiProperty({ enum: ACCELERATOR_VENDORS })
  vendor: AcceleratorVendor;
  name: string;
  /** Percent, per timestamp; null where the card reported nothing. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  utilization: (number | null)[];
  /** MiB. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  memory_used: (number | null)[];
  /** MiB. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  memory_total: (number | null)[];
  /** °C. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  temperature: (number | null)[];
  /** W. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  power_draw: (number | null)[];
}

/** Series for plotting: every array has one value per timestamp, the average over that step; null for a gap. */
export class MetricSeriesResponse {
  from: Date;
  to: Date;
  /** Seconds per point. */
  step: number;
  /** The start of each step. */
  timestamps: Date[];
  /** Share of the step's samples in which the server answered (1 online, 0 offline). */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  online: (number | null)[];
  /** Percent. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  cpu_usage: (number | null)[];
  /** Percent. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  memory_usage: (number | null)[];
  /** Percent. */
  @ApiProperty({ type: 'array', items: { type: 'number', nullable: true } })
  disk_usage: (number | null)[];
  cards: CardSeriesResponse[];
}

export class LatestCardResponse {
  index: number;
  @ApiProperty({ enum: ACCELERATOR_VENDORS })
  vendor: AcceleratorVendor;
  name: string;
  utilization: number | null;
  /** MiB. */
  memory_used: number | null;
  /** MiB. */
  memory_total: number | null;
  /** °C. */
  temperature: number | null;
  /** W. */
  power_draw: number | null;
}

export class LatestSampleResponse {
  server_id: number;
  server_name: string;
  /** When the sample was taken (the start of its sampling slot). */
  taken_at: Date;
  /** Whether the server answered the measurement. */
  online: boolean;
  cpu_usage: number | null;
  memory_usage: number | null;
  disk_usage: number | null;
  cards: LatestCardResponse[];
}
