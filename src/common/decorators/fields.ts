import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Exclude, Transform } from 'class-transformer';
import { IsDate, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy, ValidateIf } from 'class-validator';

/** Text without a NUL character, which no database column stores (PostgreSQL refuses it outright). */
export const NO_NUL = /^[^\u0000]*$/;
/**
 * What has no place in a name: control and format characters (bidi overrides, zero-width marks, which make two
 * names look alike or reorder what an operator reads), line separators and lone surrogates.
 */
const NOT_A_NAME_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;
/** The largest value the database's integer columns (ids included) hold. */
export const MAX_INT32 = 2_147_483_647;

/** Whether `value` is free of control, bidi and zero-width characters and lone surrogates. */
export function isPrintableName(value: unknown): boolean {
  return typeof value === 'string' && !NOT_A_NAME_CHARACTER.test(value);
}

/**
 * The field may be left out, but not sent as `null` (its column has no "nothing" to store). `@IsOptional()`
 * would let `null` through to a NOT NULL column.
 */
export function NotNullIfPresent(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO 8601 date or date-time (`2026-12-01`, `2026-12-01T08:00:00Z`, with an offset or local), checked field by
 * field: `Date.parse` also takes `"1"` or `-1` and rolls `2026-02-30` over into March.
 */
export function parseIsoDateTime(text: string): Date | undefined {
  const parts = ISO_DATE_TIME.exec(text.trim());
  if (!parts) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = parts
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(text.trim().replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** An ISO 8601 date-time string made a Date; anything else stays as sent and fails `@IsDate()` with a clear message. */
export function IsoDateTime(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? (parseIsoDateTime(value) ?? value) : value)),
    IsDate({ message: '$property must be an ISO 8601 date-time, e.g. 2026-12-01T08:00:00Z' }),
  );
}

/**
 * Fields that a resource's GET returns but that clients cannot change. Clients may send the resource
 * back as they received it (`{...card}`), so these fields are accepted and silently dropped before
 * validation; any other unknown field is still refused. A class decorator, so that the fields stay
 * out of the DTO's type and its OpenAPI schema.
 */
export function AcceptsReadOnlyFields(...fields: string[]): ClassDecorator {
  return (target) => {
    for (const field of fields) Exclude({ toClassOnly: true })(target.prototype as object, field);
  };
}

/** A required, non-blank string up to `maxLength` characters. */
export function RequiredText(maxLength = 255, description?: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ minLength: 1, maxLength, description }),
    IsString(),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)),
    IsNotEmpty(),
    MaxLength(maxLength),
    ValidateBy({
      name: 'isPrintableName',
      validator: { validate: isPrintableName, defaultMessage: () => '$property must not contain control, bidi or zero-width characters' },
    }),
  );
}

/** An optional string; `""` and `null` are accepted (the admin UI sends both for empty inputs). */
export function OptionalText(maxLength = 255, description?: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ maxLength, nullable: true, description, type: String }),
    IsOptional(),
    IsString(),
    MaxLength(maxLength),
    NoNulCharacters(),
  );
}

/**
 * Refuses a string holding a NUL character (see NO_NUL). Validation only: the swagger plugin cannot see through it,
 * so a schema that shows the rule says `pattern: NO_NUL.source` itself.
 */
export function NoNulCharacters(): PropertyDecorator {
  return Matches(NO_NUL, { message: '$property must not contain NUL characters' });
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
