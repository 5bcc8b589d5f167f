import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isFQDN, isIP, IsInt, Max, Min, ValidateBy } from 'class-validator';
import { NotNullIfPresent } from './fields';

/** Host names as DNS carries them: internationalised names in their `xn--` form, so no look-alike or invisible characters. */
const ASCII_HOST_NAME = /^[A-Za-z0-9.-]+$/;

/** A hostname, an IPv4 or an IPv6 address — nothing else (no URL, no port, no spaces, shell or non-ASCII characters). */
export function isHost(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 253) return false;
  if (isIP(value)) return true;
  return ASCII_HOST_NAME.test(value) && isFQDN(value, { require_tld: false, allow_underscores: false, allow_trailing_dot: false });
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
    NotNullIfPresent(),
    IsInt(),
    Min(1),
    Max(65535),
  );
}
