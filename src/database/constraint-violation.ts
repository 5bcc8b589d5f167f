import { QueryFailedError } from 'typeorm';

/** A unique, foreign-key or check constraint refused the statement. */
export function isConstraintViolation(error: QueryFailedError): boolean {
  const raw = (error.driverError as { code?: unknown } | undefined)?.code;
  // Only a string or a number can name one of the codes below.
  const code = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
  // PostgreSQL class 23 (integrity constraint violation); SQLite SQLITE_CONSTRAINT and its extended codes
  // (better-sqlite3 reports SQLITE_CONSTRAINT_UNIQUE, _NOTNULL, _FOREIGNKEY, ...).
  return code.startsWith('23') || code.startsWith('SQLITE_CONSTRAINT');
}
