import { registerAs } from '@nestjs/config';
import { plainToInstance, Transform } from 'class-transformer';
import { IsOptional, IsString, Matches, MinLength, validateSync } from 'class-validator';

const blankToUndefined = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** The settings of the Prometheus endpoint, validated like EnvironmentVariables: a bad value stops the process. */
export class ObservabilityEnvironment {
  /** A static bearer token that may scrape `GET /metrics` besides users' tokens; unset: users' tokens only. */
  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  // It travels in an Authorization header: no whitespace, which would also make it differ from what Prometheus sends.
  @Matches(/^\S+$/, { message: 'METRICS_TOKEN must not contain whitespace' })
  METRICS_TOKEN?: string;
}

/** Parses and validates `env`; throws one error naming every bad variable, never echoing the secret. */
export function validateObservabilityEnvironment(env: Record<string, unknown>): ObservabilityEnvironment {
  const parsed = plainToInstance(ObservabilityEnvironment, { METRICS_TOKEN: env.METRICS_TOKEN }, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, forbidUnknownValues: true });
  if (errors.length > 0) {
    const reasons = errors.flatMap((error) => Object.values(error.constraints ?? {}).map((text) => `${error.property}: ${text}`));
    throw new Error(`Invalid configuration: ${reasons.join('; ')}`);
  }
  return parsed;
}

export const observabilityConfig = registerAs('observability', () => ({
  metricsToken: validateObservabilityEnvironment(process.env).METRICS_TOKEN,
}));

export type ObservabilityConfig = ReturnType<typeof observabilityConfig>;
