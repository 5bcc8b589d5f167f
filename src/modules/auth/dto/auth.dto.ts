import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IsoDateTime, MAX_INT32, NotNullIfPresent, RequiredText } from '../../../common/decorators/fields';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, USERNAME_PATTERN, USERNAME_RULE } from '../../../common/credentials-policy';
import { ROLES, Role } from '../roles';

/** A password being set: the length rules apply here (not at login). */
function NewPassword(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' }),
    IsString(),
    MinLength(PASSWORD_MIN_LENGTH),
    MaxLength(PASSWORD_MAX_LENGTH),
  );
}

/** An optional per-minute limit of the gateway: a positive integer, or null for none. */
function PerMinuteLimit(): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_INT32, nullable: true }),
    IsOptional(),
    IsInt(),
    Min(1),
    Max(MAX_INT32),
  );
}

export class LoginDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  username: string;

  /** Any length is accepted here: the length rules apply when a password is set. */
  @ApiProperty({ format: 'password' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password: string;
}

export class PrincipalResponse {
  /** Null only when authentication is disabled. */
  @ApiProperty({ type: 'integer', nullable: true })
  id: number | null;
  username: string;
  @ApiProperty({ enum: ROLES })
  role: Role;
}

export class SessionResponse {
  /** A JWT; also set as the HttpOnly `infini_token` cookie for browsers. */
  access_token: string;
  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';
  /** Seconds until the token expires. */
  expires_in: number;
  user: PrincipalResponse;
}

export class MeResponse extends PrincipalResponse {
  /** False when the backend runs with AUTH_ENABLED=false (everyone is an admin). */
  auth_enabled: boolean;
  /** Set when the caller used an API token. */
  @ApiPropertyOptional({ type: 'integer' })
  token_id?: number;
}

export class ChangePasswordDto {
  @ApiProperty({ format: 'password' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  current_password: string;

  @NewPassword()
  new_password: string;
}

export class CreateTokenDto {
  @RequiredText(128, 'What the token is for, e.g. "nightly backup script"')
  name: string;

  /** At most your own role; default: your role. */
  @ApiPropertyOptional({ enum: ROLES })
  @NotNullIfPresent()
  @IsIn(ROLES)
  role?: Role;

  /** When the token stops working (ISO 8601, in the future); default: never. */
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @IsoDateTime()
  expires_at?: Date | null;

  /** Gateway (/v1) requests allowed per minute, beyond which it answers 429; null or absent: no limit. */
  @PerMinuteLimit()
  rpm_limit?: number | null;

  /** Gateway (/v1) tokens (prompt and completion) allowed per minute, beyond which it answers 429; null or absent: no limit. */
  @PerMinuteLimit()
  tpm_limit?: number | null;
}

/** Fields left out keep their values; `null` removes a limit. */
export class UpdateTokenDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 128 })
  @NotNullIfPresent()
  @RequiredText(128)
  name?: string;

  @PerMinuteLimit()
  rpm_limit?: number | null;

  @PerMinuteLimit()
  tpm_limit?: number | null;
}

export class ApiTokenResponse {
  id: number;
  name: string;
  @ApiProperty({ enum: ROLES })
  role: Role;
  user_id: number;
  username: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expires_at: Date | null;
  /** Gateway requests per minute; null: no limit. */
  @ApiProperty({ type: 'integer', nullable: true })
  rpm_limit: number | null;
  /** Gateway tokens per minute; null: no limit. */
  @ApiProperty({ type: 'integer', nullable: true })
  tpm_limit: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_used_at: Date | null;
  @ApiProperty({ type: String, format: 'date-time' })
  created_at: Date;
}

export class CreatedTokenResponse extends ApiTokenResponse {
  /** The token itself, shown this once: only its hash is stored. Send it as `Authorization: Bearer <token>`. */
  token: string;
}

export class UserResponse {
  id: number;
  username: string;
  @ApiProperty({ enum: ROLES })
  role: Role;
  disabled: boolean;
  @ApiProperty({ type: String, format: 'date-time' })
  created_at: Date;
}

export class CreateUserDto {
  @ApiProperty({ pattern: USERNAME_PATTERN.source })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_RULE })
  username: string;

  @NewPassword()
  password: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role: Role;

  @NotNullIfPresent()
  @IsBoolean()
  disabled?: boolean;
}

/** Fields left out keep their values. A new password ends the user's sessions. */
export class UpdateUserDto {
  @ApiPropertyOptional({ pattern: USERNAME_PATTERN.source })
  @NotNullIfPresent()
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_RULE })
  username?: string;

  @ApiPropertyOptional({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @NotNullIfPresent()
  @IsString()
  @MinLength(PASSWORD_MIN_LENGTH)
  @MaxLength(PASSWORD_MAX_LENGTH)
  password?: string;

  @ApiPropertyOptional({ enum: ROLES })
  @NotNullIfPresent()
  @IsIn(ROLES)
  role?: Role;

  @NotNullIfPresent()
  @IsBoolean()
  disabled?: boolean;
}
