import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayUnique, IsArray, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { AcceptsReadOnlyFields, RequiredText } from '../../../common/decorators/fields';
import { DeployResult, ServiceOperation } from '../service.entity';

export const DEPLOY_STATUSES = ['offline', 'online', 'deploying', 'deployed'] as const;
const SERVICE_OPERATIONS: ServiceOperation[] = ['deploy', 'restart', 'stop'];

/** One server's outcome of a deploy, restart (`output`/`error`) or stop (`message`). */
export class DeployResultEntry implements DeployResult {
  server_id: number;
  server_name: string | null;
  server_ip: string | null;
  success: boolean;
  output?: string;
  error?: string;
  message?: string;
}

export class ServiceResponse {
  id: number;
  name: string;
  model_id: number;
  model_name: string | null;
  /** Ids of the servers the service runs on. */
  server_ids: number[];
  deploy_command: string | null;
  /**
   * `deployed` when the agent of every server reports the service running; `online` when every agent answers
   * but not all run it; `offline` when an agent cannot be reached (or the service has no servers);
   * `deploying` while a deploy, restart or stop is in flight.
   */
  @ApiProperty({ enum: DEPLOY_STATUSES })
  deploy_status: string;
  /** The operation `deploying` stands for, and whose per-server results `deploy_result` holds; null before the first. */
  @ApiProperty({ enum: SERVICE_OPERATIONS, nullable: true })
  deploy_operation: ServiceOperation | null;
  deploy_result: DeployResultEntry[] | null;
  created_at: Date;
}

@AcceptsReadOnlyFields('id', 'deploy_status', 'deploy_operation', 'deploy_result', 'created_at', 'model_name')
export class CreateServiceDto {
  @RequiredText()
  name: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  model_id: number;

  @ApiProperty({ type: [Number], description: 'Ids of existing servers' })
  @IsArray()
  @ArrayMaxSize(1000)
  @ArrayUnique()
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(2_147_483_647, { each: true })
  server_ids: number[];

  /** Command the agents run to start the model server. With servers and a command, create deploys at once. */
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 65536 })
  @IsOptional()
  @IsString()
  @MaxLength(65536)
  @Matches(/^[^\u0000]*$/, { message: 'deploy_command must not contain NUL characters' })
  deploy_command?: string | null;
}

/** Fields left out keep their stored values; an update never redeploys. */
export class UpdateServiceDto extends PartialType(CreateServiceDto, { skipNullProperties: false }) {}
