import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayUnique, IsArray, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { AcceptsReadOnlyFields, MAX_INT32, NO_NUL, NoNulCharacters, NotNullIfPresent, RequiredText } from '../../../common/decorators/fields';
import { OperationOutcome } from '../service-operation.entity';
import { DeployResult, ServiceOperation } from '../service.entity';

export const DEPLOY_STATUSES = ['offline', 'online', 'deploying', 'deployed'] as const;
const MAX_ALIASES = 32;
/** A model name as clients send it: Hugging Face ids (`Qwen/Qwen2.5-7B-Instruct`), tags (`llama3:8b`), versions. */
const MODEL_NAME = /^[A-Za-z0-9._:/@+-]{1,128}$/;
const SERVICE_OPERATIONS: ServiceOperation[] = ['deploy', 'restart', 'stop'];
const OPERATION_OUTCOMES: OperationOutcome[] = ['running', 'succeeded', 'partial', 'failed', 'interrupted'];

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
  /** More model names the /v1 gateway routes to this service by, besides `model_name`. */
  aliases: string[];
  deploy_command: string | null;
  /**
   * `deployed` when the agent of every server reports the service running; `online` when every agent answers
   * but not all run it; `offline` when an agent cannot be reached (or the service has no servers);
   * `deploying` while a deploy or restart is in flight (a stop keeps the status until it ends).
   */
  @ApiProperty({ enum: DEPLOY_STATUSES })
  deploy_status: string;
  /** The operation `deploying` stands for, and whose per-server results `deploy_result` holds; null before the first. */
  @ApiProperty({ enum: SERVICE_OPERATIONS, nullable: true })
  deploy_operation: ServiceOperation | null;
  /**
   * Per-server results of the latest deploy or restart as stored JSON text (clients `JSON.parse` it, as the old
   * API's did): an array of DeployResultEntry. `GET /api/services/{id}/deploy-log` gives the same array parsed.
   */
  @ApiProperty({
    type: String,
    nullable: true,
    example: '[{"server_id":1,"server_name":"gpu-1","server_ip":"10.0.0.5","success":true,"output":"started","error":""}]',
  })
  deploy_result: string | null;
  created_at: Date;
}

@AcceptsReadOnlyFields('id', 'deploy_status', 'deploy_operation', 'deploy_result', 'created_at', 'model_name')
export class CreateServiceDto {
  @RequiredText()
  name: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(MAX_INT32)
  model_id: number;

  @ApiProperty({ type: [Number], description: 'Ids of existing servers' })
  @IsArray()
  @ArrayMaxSize(1000)
  @ArrayUnique()
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(MAX_INT32, { each: true })
  server_ids: number[];

  /**
   * More model names the /v1 gateway routes to this service by, besides its model's name: clients written for
   * another name (`gpt-4o-mini`) keep it. Services sharing a name are replicas of it.
   */
  @ApiPropertyOptional({ type: [String], maxItems: MAX_ALIASES, example: ['gpt-4o-mini'] })
  @NotNullIfPresent()
  @IsArray()
  @ArrayMaxSize(MAX_ALIASES)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(MODEL_NAME, { each: true, message: 'each alias must be 1-128 characters of letters, digits and ._:/@+-' })
  aliases?: string[];

  /** Command the agents run to start the model server. With servers and a command, create deploys at once. */
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 65536, pattern: NO_NUL.source })
  @IsOptional()
  @IsString()
  @MaxLength(65536)
  @NoNulCharacters()
  deploy_command?: string | null;
}

/** One deploy, restart or stop of a service, as its operation history lists it. */
export class ServiceOperationResponse {
  id: number;
  service_id: number;
  @ApiProperty({ enum: SERVICE_OPERATIONS })
  operation: ServiceOperation;
  /** The user who started it; null when the backend did (no such case yet) or it predates sign-in. */
  started_by: string | null;
  started_at: Date;
  /** Null while it runs. */
  finished_at: Date | null;
  /** The deploy command sent to the agents; null for a stop. */
  command: string | null;
  /**
   * `running`; then `succeeded` (every server did it), `partial` (some did), `failed` (none did) or `interrupted`
   * (the backend stopped before the agents answered: whether they did it is unknown).
   */
  @ApiProperty({ enum: OPERATION_OUTCOMES })
  outcome: OperationOutcome;
  /** Per-server results; null while it runs. */
  results: DeployResultEntry[] | null;
  /** The service's status the agents reported when it ended; null while it runs. */
  @ApiProperty({ enum: DEPLOY_STATUSES, nullable: true })
  status_after: string | null;
}

/** Fields left out keep their stored values; an update never redeploys. */
export class UpdateServiceDto extends PartialType(CreateServiceDto, { skipNullProperties: false }) {}
