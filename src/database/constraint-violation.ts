import { QueryFailedError } from 'typeorm';

/** A unique, foreign-key or check constraint refused the statement. */
export function isConstraintViolation(error: QueryFailedError): boolean {
  const code = String((error.driverError as { code?: unknown })?.code ?? '');
  // PostgreSQL class 23 (integrity constraint violation); SQLite SQLITE_CONSTRAINT.
  return code.startsWith('23') || code === 'SQLITE_CONSTRAINT';
}
