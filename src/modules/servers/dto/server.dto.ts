import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { AcceptsReadOnlyFields, MAX_INT32, NoNulCharacters, NotNullIfPresent, RequiredText } from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';
import { IsHost, IsPort } from '../../../common/decorators/network';
import type { PoolState } from '../../../ssh/ssh-pool.service';
import { GpuMetrics } from '../resource-probe';

export const AUTH_TYPES = ['password', 'key'] as const;

export class ServerResponse {
  id: number;
  name: string;
  brand_id: number | null;
  /** The accelerator card (`accelerator_cards.id`). */
  model_id: number | null;
  brand_name: string | null;
  /** The accelerator card's name. */
  model_name: string | null;
  host_ip: string;
  port: number;
  username: string;
  /** `password` or `key`. Secrets themselves are never returned. */
  auth_type: string;
  agent_port: number;
  chat_port: number;
  /** `online` when the last check reached SSH, otherwise `offline`. */
  status: string;
  last_check: Date | null;
  /** The pinned SSH host key (`SHA256:…`), recorded on first connection; null until then. */
  host_key_fingerprint: string | null;
  created_at: Date;
}

/** A write-only secret: `""`, `null` or leaving it out keeps the stored value on update. */
function Secret(maxLength: number, description: string): PropertyDecorator {
  return (target, key) => {
    ApiPropertyOptional({ type: String, nullable: true, maxLength, description, writeOnly: true })(target, key);
    IsOptional()(target, key);
    IsString()(target, key);
    MaxLength(maxLength)(target, key);
    NoNulCharacters()(target, key);
  };
}

@AcceptsReadOnlyFields('id', 'status', 'last_check', 'created_at', 'brand_name', 'model_name', 'host_key_fingerprint')
export class CreateServerDto {
  @RequiredText()
  name: string;

  @IsHost()
  host_ip: string;

  @RequiredText(255, 'SSH user')
  username: string;

  @IsPort(22, 'SSH port')
  port?: number;

  @ApiPropertyOptional({ enum: AUTH_TYPES, default: 'password' })
  @NotNullIfPresent()
  @IsIn(AUTH_TYPES)
  auth_type?: (typeof AUTH_TYPES)[number];

  @Secret(4096, 'SSH password (auth_type `password`)')
  password?: string | null;

  @Secret(65536, 'OpenSSH or PEM private key (auth_type `key`)')
  private_key?: string | null;

  @Secret(4096, "The private key's passphrase, if it has one")
  passphrase?: string | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'Brand id' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_INT32)
  brand_id?: number | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'Accelerator card id' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_INT32)
  model_id?: number | null;

  @IsPort(8888, 'Port of the service agent')
  agent_port?: number;

  @IsPort(8000, 'Port of the OpenAI-compatible model server')
  chat_port?: number;
}

/** Fields left out keep their stored values; an empty secret keeps the stored secret. */
export class UpdateServerDto extends UpdateType(CreateServerDto) {}

export class ServerStatusResponse {
  @ApiProperty({ enum: ['online', 'offline'] })
  status: string;
}

export class ServerCheckResult {
  id: number;
  @ApiProperty({ enum: ['online', 'offline'] })
  status: string;
}

export class CheckAllResponse {
  results: ServerCheckResult[];
}

export class GpuMetricsResponse implements GpuMetrics {
  index: number;
  name: string;
  utilization: number | null;
  memory_used: number | null;
  memory_total: number | null;
  memory_usage: number | null;
  temperature: number | null;
  power_draw: number | null;
}

export class ResourcesResponse {
  /** Percent busy over a 0.5 s sample, one decimal; null on failure. */
  cpu_usage: number | null;
  /** Percent of memory in use (MemTotal − MemAvailable), one decimal; null on failure. */
  memory_usage: number | null;
  /** Percent of the root file system in use, one decimal; null on failure. */
  disk_usage: number | null;
  /** Per-GPU metrics, present when the host has nvidia-smi. */
  gpus?: GpuMetricsResponse[];
  /** Why the measurement failed. */
  error?: string;
}

export class SshPoolStateResponse implements PoolState {
  /** Open SSH connections to the server, retired ones included. */
  connections: number;
  /** Channels (commands, terminals, probes) open or being opened on them. */
  open_channels: number;
  /** Connections that take no new channels (the server left a channel open unanswered); they close once idle. */
  retired_connections: number;
}

export class ServerResourcesResponse extends ResourcesResponse {
  id: number;
}
