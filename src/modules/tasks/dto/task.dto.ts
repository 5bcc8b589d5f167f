import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateBy } from 'class-validator';
import {
  AcceptsReadOnlyFields,
  IsoDateTime,
  MAX_INT32,
  NO_NUL,
  NoNulCharacters,
  NotNullIfPresent,
  RequiredText,
} from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';
import { isTimeZone } from '../../../common/time-zone';
import { SCHEDULE_TYPES } from '../schedule';

export class TaskResultBody {
  output: string;
  error: string;
  success: boolean;
  exit_status?: number | null;
  /** The output was longer than the cap and was cut. */
  truncated?: boolean;
}

export class TaskResponse {
  id: number;
  name: string;
  command: string;
  /** Who last set `command` (at creation or by an update): scheduled runs run it on their behalf. Null when unknown. */
  command_set_by: string | null;
  server_id: number;
  server_name: string | null;
  /** `once`, `daily` (00:00), `weekly` (00:00 on the creation weekday) or `cron`. */
  schedule_type: string;
  cron_expression: string | null;
  /** IANA time zone of the schedule; null means the server's default (SCHEDULER_TIMEZONE). */
  timezone: string | null;
  /** For `once`: when it runs; null means right after creation. */
  run_at: Date | null;
  /** A disabled task is never run by the scheduler (it can still be executed by hand). */
  enabled: boolean;
  /** When the scheduler will run the task next; null when nothing is due. */
  next_run: Date | null;
  timeout_seconds: number;
  /** `pending`, `executing`, `completed` or `failed`. */
  status: string;
  last_run: Date | null;
  /** `{output, error, success, exit_status, truncated}` of the last run. */
  result: TaskResultBody | null;
  created_at: Date;
}

@AcceptsReadOnlyFields('id', 'status', 'last_run', 'result', 'created_at', 'server_name', 'next_run', 'command_set_by')
export class CreateTaskDto {
  @RequiredText()
  name: string;

  /** Run as `bash -l -c '<command>'` on the server. */
  @ApiProperty({ minLength: 1, maxLength: 65536, pattern: NO_NUL.source })
  @IsString()
  @MinLength(1)
  @MaxLength(65536)
  @NoNulCharacters()
  @Matches(/\S/, { message: 'command must not be blank' })
  command: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(MAX_INT32)
  server_id: number;

  /** `once`, `daily` (00:00), `weekly` (00:00 on the weekday of creation, every 7 days) or `cron`. */
  @ApiProperty({ enum: SCHEDULE_TYPES })
  @IsIn(SCHEDULE_TYPES)
  schedule_type: (typeof SCHEDULE_TYPES)[number];

  /** Required for `cron`: 5 fields (minute hour day month weekday), or 6 with seconds first. */
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 128, example: '*/5 * * * *' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  cron_expression?: string | null;

  /** IANA time zone, e.g. `Asia/Shanghai`; default SCHEDULER_TIMEZONE. */
  @ApiPropertyOptional({ type: String, nullable: true, example: 'Asia/Shanghai' })
  @IsOptional()
  @ValidateBy({
    name: 'isTimeZone',
    validator: { validate: isTimeZone, defaultMessage: () => 'timezone must be an IANA time zone such as Asia/Shanghai' },
  })
  timezone?: string | null;

  /** For `once`: when to run (ISO 8601); left out, the task runs right after it is created. */
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === '' ? null : value))
  @IsoDateTime()
  run_at?: Date | null;

  @ApiPropertyOptional({ default: true })
  @NotNullIfPresent()
  @IsBoolean()
  enabled?: boolean;

  /** How long a run may take before it is ended; default TASK_TIMEOUT_SECONDS. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 604800 })
  @NotNullIfPresent()
  @IsInt()
  @Min(1)
  @Max(604_800)
  timeout_seconds?: number;
}

/** Fields left out keep their stored values. */
export class UpdateTaskDto extends UpdateType(CreateTaskDto) {}

export class ExecuteTaskResponse {
  output: string;
  error: string;
  /** Exit status 0. */
  success: boolean;
  exit_status: number | null;
  /** The history row of this run. */
  run_id: number;
}

export class TaskResultResponse {
  last_run: Date | null;
  output?: string;
  error?: string;
  success?: boolean;
  /** Present when the task has not run yet. */
  message?: string;
}

export class TaskRunResponse {
  id: number;
  task_id: number;
  /** `manual` or `schedule`. */
  trigger: string;
  /** The slot a scheduled run was for; null for manual runs. */
  scheduled_for: Date | null;
  started_at: Date;
  finished_at: Date | null;
  /** `running`, `completed`, `failed`, `timed_out` or `skipped` (the previous run was still going). */
  status: string;
  exit_status: number | null;
  duration_ms: number | null;
  output: string;
  error: string;
}
