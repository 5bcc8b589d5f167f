import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isFQDN, isIP, IsInt, IsOptional, Max, Min, ValidateBy } from 'class-validator';

/** A hostname, an IPv4 or an IPv6 address — nothing else (no URL, no port, no spaces or shell characters). */
export function isHost(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 253) return false;
  return isIP(value) || isFQDN(value, { require_tld: false, allow_underscores: false, allow_trailing_dot: false });
}

export function IsHost(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ description: 'Hostname, IPv4 or IPv6 address', example: '192.168.1.100', maxLength: 253 }),
    ValidateBy({
      name: 'isHost',
      validator: {
        validate: isHost,
        defaultMessage: () => '$property must be a hostname, an IPv4 or an IPv6 address',
      },
    }),
  );
}

/** A TCP port, 1–65535; optional, with the default named in the docs. */
export function IsPort(defaultPort: number, description?: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 65535, default: defaultPort, description }),
    IsOptional(),
    IsInt(),
    Min(1),
    Max(65535),
  );
}
