import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Exclude, Transform } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

const NO_NUL = /^[^\u0000]*$/;
const MAX_INT32 = 2_147_483_647;

/**
 * Fields that a resource's GET returns but that clients cannot change. Clients may send the resource
 * back as they received it (`{...card}`), so these fields are accepted and silently dropped before
 * validation; any other unknown field is still refused. A class decorator, so that the fields stay
 * out of the DTO's type and its OpenAPI schema.
 */
export function AcceptsReadOnlyFields(...fields: string[]): ClassDecorator {
  return (target) => {
    for (const field of fields) Exclude({ toClassOnly: true })(target.prototype, field);
  };
}

/** A required, non-blank string up to `maxLength` characters. */
export function RequiredText(maxLength = 255, description?: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ minLength: 1, maxLength, description }),
    IsString(),
    Transform(({ value }) => (typeof value === 'string' ? value.trim() : value)),
    IsNotEmpty(),
    MaxLength(maxLength),
    Matches(NO_NUL, { message: '$property must not contain NUL characters' }),
  );
}

/** An optional string; `""` and `null` are accepted (the admin UI sends both for empty inputs). */
export function OptionalText(maxLength = 255, description?: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ maxLength, nullable: true, description, type: String }),
    IsOptional(),
    IsString(),
    MaxLength(maxLength),
    Matches(NO_NUL, { message: '$property must not contain NUL characters' }),
  );
}

/** A non-negative integer that fits the database's 32-bit integer columns. */
export function Int32(options: { min?: number; description?: string } = {}): PropertyDecorator {
  const min = options.min ?? 0;
  return applyDecorators(
    ApiProperty({ type: 'integer', minimum: min, maximum: MAX_INT32, description: options.description }),
    IsInt(),
    Min(min),
    Max(MAX_INT32),
  );
}
