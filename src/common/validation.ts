import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationDetail } from './dto/responses.dto';

/**
 * Flattens nested class-validator errors into one entry per bad field path. A missing or null field is said to be
 * so: the first rule it fails (a length, a pattern) would only puzzle the caller.
 */
export function toValidationDetails(errors: ValidationError[], parent = ''): ValidationDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, messages: messagesFor(error, field) }] : [];
    return [...own, ...toValidationDetails(error.children ?? [], field)];
  });
}

function messagesFor(error: ValidationError, field: string): string[] {
  const unknownField = error.constraints?.whitelistValidation !== undefined;
  if (unknownField || !error.property) return Object.values(error.constraints ?? {});
  if (error.value === undefined) return [`${field} is required`];
  if (error.value === null) return [`${field} must not be null`];
  return Object.values(error.constraints ?? {});
}

/**
 * The global pipe: DTOs are transformed, unknown fields are refused with a 400 that names them
 * (read-only fields are dropped by `@AcceptsReadOnlyFields()` before this check sees them).
 */
class BodyValidationPipe extends ValidationPipe {
  /** Route and query parameters are parsed by their own pipes, which give precise errors; leave them raw. */
  protected override transformPrimitive(value: unknown): unknown {
    return value;
  }
}

export function createValidationPipe(): ValidationPipe {
  return new BodyValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const details = toValidationDetails(errors);
      const summary = details.map((detail) => detail.messages.join(', ')).join('; ');
      return new BadRequestException({ message: `Validation failed: ${summary}`, details });
    },
  });
}
