import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { AcceptsReadOnlyFields, MAX_INT32, NoNulCharacters, NotNullIfPresent, RequiredText } from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';
import { IsHost, IsPort } from '../../../common/decorators/network';
import type { PoolState } from '../../../ssh/ssh-pool.service';
import { ACCELERATOR_VENDORS, AcceleratorMetrics, AcceleratorVendor } from '../accelerators/accelerator-metrics';

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

/** One accelerator (one chip of a multi-chip card), of any vendor; null for what its tool cannot report. */
export class AcceleratorMetricsResponse implements AcceleratorMetrics {
  /** The tool's device index (for multi-chip cards: the chip's position in the tool's list). */
  index: number;
  @ApiProperty({ enum: ACCELERATOR_VENDORS })
  vendor: AcceleratorVendor;
  /** As the vendor's tool prints it, e.g. `NVIDIA H100 80GB HBM3`, `910B2C`, `MLU370-X4`. */
  name: string;
  /** Percent of compute in use. */
  utilization: number | null;
  /** MiB (HBM where the card has both HBM and DDR). */
  memory_used: number | null;
  /** MiB. */
  memory_total: number | null;
  /** Percent of memory_total in use. */
  memory_usage: number | null;
  /** Degrees Celsius. */
  temperature: number | null;
  /** Watts. */
  power_draw: number | null;
  /** The tool's health word (`OK`, `Warning`, `Alarm`...), where it reports one. */
  health: string | null;
  /** For a card with several chips: the card's id as its tool names it. */
  card_id?: number;
  /** For a card with several chips: the chip's id on the card. */
  chip_id?: number;
}

/** A row of the inventory, by id and name. */
export class InventoryReference {
  id: number;
  name: string;
}

export class DetectedAcceleratorResponse extends AcceleratorMetricsResponse {
  /** The inventory's brand of this vendor (matched by name, English or Chinese); null when none matches. */
  brand: InventoryReference | null;
  /** The inventory's accelerator card whose name matches the detected one (of that brand when one matched); null when none does. */
  accelerator_card: InventoryReference | null;
}

export class ServerAcceleratorsResponse {
  /** What the vendors' tools report now; empty when none is installed or the server could not be measured. */
  accelerators: DetectedAcceleratorResponse[];
  /** Why the server could not be measured. */
  error?: string;
}

export class ResourcesResponse {
  /** Percent busy over a 0.5 s sample, one decimal; null on failure. */
  cpu_usage: number | null;
  /** Percent of memory in use (MemTotal − MemAvailable), one decimal; null on failure. */
  memory_usage: number | null;
  /** Percent of the root file system in use, one decimal; null on failure. */
  disk_usage: number | null;
  /**
   * Every accelerator the vendors' monitoring tools report (NVIDIA, Huawei Ascend, Cambricon, Hygon, AMD, MetaX,
   * Iluvatar, Moore Threads, Kunlunxin, Enflame); absent when none of the tools is installed.
   */
  gpus?: AcceleratorMetricsResponse[];
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
