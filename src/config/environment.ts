import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, validateSync } from 'class-validator';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
const blankToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * Every setting the process reads from its environment, with the defaults that make
 * `npm start` work on a fresh machine. Validated once at boot: a bad value stops the process.
 */
export class EnvironmentVariables {
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 5000;

  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  @IsString()
  @MinLength(1)
  DATA_DIR = './data';

  @Transform(blankToUndefined)
  @IsOptional()
  @Matches(/^(postgres|postgresql):\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)' })
  DATABASE_URL?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  UPLOAD_MAX_BYTES = 5 * 1024 * 1024;

  /** Comma-separated origins allowed by CORS, or `*` for any. */
  @IsString()
  CORS_ORIGINS = 'http://localhost:8080,http://127.0.0.1:8080';
}

/** Parses and validates `env`; throws one error naming every bad variable. */
export function validateEnvironment(env: Record<string, unknown>): EnvironmentVariables {
  const present = Object.fromEntries(
    Object.keys(new EnvironmentVariables())
      .concat('DATABASE_URL')
      .filter((key) => env[key] !== undefined)
      .map((key) => [key, env[key]]),
  );
  const parsed = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, forbidUnknownValues: true });
  if (errors.length > 0) {
    const reasons = errors.flatMap((error) =>
      Object.values(error.constraints ?? {}).map((text) => `${error.property}=${JSON.stringify(error.value)}: ${text}`),
    );
    throw new Error(`Invalid configuration: ${reasons.join('; ')}`);
  }
  return parsed;
}

/** The validated environment of this process. */
export function environment(): EnvironmentVariables {
  return validateEnvironment(process.env);
}
