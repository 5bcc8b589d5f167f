import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { AcceptsReadOnlyFields, RequiredText } from '../../../common/decorators/fields';

export const SCHEDULE_TYPES = ['once', 'daily', 'weekly'] as const;

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
  server_id: number;
  server_name: string | null;
  /** `once`, `daily` or `weekly`. */
  schedule_type: string;
  /** `pending`, `executing`, `completed` or `failed`. */
  status: string;
  last_run: Date | null;
  /** `{output, error, success, exit_status, truncated}` of the last run. */
  result: TaskResultBody | null;
  created_at: Date;
}

@AcceptsReadOnlyFields('id', 'status', 'last_run', 'result', 'created_at', 'server_name')
export class CreateTaskDto {
  @RequiredText()
  name: string;

  /** Run as `bash -l -c '<command>'` on the server. */
  @ApiProperty({ minLength: 1, maxLength: 65536 })
  @IsString()
  @MinLength(1)
  @MaxLength(65536)
  @Matches(/^[^\u0000]*$/, { message: 'command must not contain NUL characters' })
  @Matches(/\S/, { message: 'command must not be blank' })
  command: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  server_id: number;

  @ApiProperty({ enum: SCHEDULE_TYPES })
  @IsIn(SCHEDULE_TYPES)
  schedule_type: (typeof SCHEDULE_TYPES)[number];
}

/** Fields left out keep their stored values. */
export class UpdateTaskDto extends PartialType(CreateTaskDto, { skipNullProperties: false }) {}

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
  started_at: Date;
  finished_at: Date | null;
  /** `running`, `completed`, `failed` or `timed_out`. */
  status: string;
  exit_status: number | null;
  output: string;
  error: string;
}

export class ListRunsQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}
