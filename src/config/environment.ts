import { plainToInstance, Transform } from 'class-transformer';
import {
  getMetadataStorage,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';
import { PASSWORD_MIN_LENGTH, USERNAME_PATTERN, USERNAME_RULE } from '../common/credentials-policy';
import { isTimeZone } from '../common/time-zone';
import { parseTrustProxy } from '../common/trust-proxy';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The levels printed when LOG_LEVEL is `level`: it and every more severe one. */
export function logLevelsUpTo(level: LogLevelName): LogLevelName[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value);
const toBoolean = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^(true|false|1|0)$/i.test(value.trim()) ? /^(true|1)$/i.test(value.trim()) : value;
const isTrustProxy = (value: string): boolean => {
  try {
    parseTrustProxy(value);
    return true;
  } catch {
    return false;
  }
};
const blankToUndefined = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

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

  /**
   * Redis, for several instances on one PostgreSQL database: Socket.IO events, sign-in and gateway limits and read-cache
   * invalidations then reach every instance. Unset: one instance, everything in memory.
   */
  @Transform(blankToUndefined)
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL (leave it unset for one instance)' })
  REDIS_URL?: string;

  /** A built single-page app (the admin UI) served at `/`; unset: the backend serves no UI. */
  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  UI_DIR?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  UPLOAD_MAX_BYTES = 5 * 1024 * 1024;

  /**
   * Proxies in front of the backend whose X-Forwarded-For / -Proto are believed (for client IPs in the audit log and
   * sign-in throttling, and for Secure cookies): empty (none), `true`, a hop count, or addresses and subnets.
   */
  @ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isTrustProxy(value),
      defaultMessage: () =>
        'TRUST_PROXY must be true, false, a number of hops, or comma-separated addresses, subnets or loopback/linklocal/uniquelocal',
    },
  })
  TRUST_PROXY = '';

  /** Comma-separated origins allowed by CORS, or `*` for any. */
  @IsString()
  CORS_ORIGINS = 'http://localhost:8080,http://127.0.0.1:8080';

  /**
   * How long list and overview reads are served from memory. Writes through this process clear them at
   * once; the TTL bounds staleness from other writers (a second instance on the same database). 0 disables.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  READ_CACHE_TTL_MS = 1000;

  /** 32 bytes as 64 hex digits or base64, for secrets at rest; unset: generated once into DATA_DIR. */
  @Transform(blankToUndefined)
  @IsOptional()
  @Matches(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, { message: 'ENCRYPTION_KEY must be 32 bytes as 64 hex digits or base64' })
  ENCRYPTION_KEY?: string;

  /** TCP connect plus SSH handshake. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  SSH_CONNECT_TIMEOUT_MS = 10_000;

  /** A pooled connection with no open channel is closed after this long. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  SSH_IDLE_TIMEOUT_MS = 600_000;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  SSH_KEEPALIVE_INTERVAL_MS = 15_000;

  /** Opening a shell or exec channel on a connected server; past it the connection takes no new channels. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  SSH_CHANNEL_OPEN_TIMEOUT_MS = 10_000;

  /** Connections the pool keeps to one server at most: a server that holds channels cannot make it open more forever. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SSH_MAX_CONNECTIONS_PER_SERVER = 8;

  /** Channels per connection before the pool opens another (OpenSSH `MaxSessions`). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SSH_MAX_CHANNELS = 10;

  /** Reachability probe of a server's SSH port. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  SERVER_CHECK_TIMEOUT_MS = 3000;

  /** Per-host bound on a resource measurement. */
  @Transform(toInt)
  @IsInt()
  @Min(500)
  RESOURCES_TIMEOUT_MS = 15_000;

  /** How long one accelerator monitoring tool (nvidia-smi, npu-smi...) may run in a measurement before it is cut off. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(600)
  RESOURCES_TOOL_TIMEOUT_SECONDS = 5;

  /**
   * Servers measured or probed at once. A measurement mostly waits on the server (its CPU is sampled 0.5 s apart)
   * and costs the backend one channel on a pooled connection, so a whole fleet of this size is measured in one go.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  RESOURCES_CONCURRENCY = 128;

  /** How often the metrics sampler measures every server for the history; 0 turns it off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86_400)
  METRICS_INTERVAL_SECONDS = 30;

  /** How long raw samples are kept; older ones are averaged into five-minute samples. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(24 * 366)
  METRICS_RAW_HOURS = 24;

  /** How long the five-minute averages are kept. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3660)
  METRICS_HISTORY_DAYS = 30;

  /** How long a task's command may run, for tasks created without `timeout_seconds`. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TASK_TIMEOUT_SECONDS = 3600;

  /** Runs due tasks; several instances may share one database (each slot runs once). */
  @Transform(toBoolean)
  @IsBoolean()
  SCHEDULER_ENABLED = true;

  /** Time zone of schedules whose task names none; default the process's own. */
  @ValidateBy({
    name: 'isTimeZone',
    validator: { validate: isTimeZone, defaultMessage: () => 'SCHEDULER_TIMEZONE must be an IANA time zone such as Asia/Shanghai' },
  })
  SCHEDULER_TIMEZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

  /** How often the scheduler looks for due tasks, and how far ahead (a slot before the next poll gets a wake-up). */
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  SCHEDULER_POLL_MS = 250;

  /** Slots missed while the backend was down: run the task once at start-up, or skip to the next slot. */
  @IsIn(['run_once', 'skip'])
  SCHEDULER_MISFIRE: 'run_once' | 'skip' = 'run_once';

  /** Runs kept per task; older ones are deleted. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TASK_RUNS_KEEP = 100;

  /** Task runs (manual and scheduled) at once over all servers, which bounds the backend's own load; more wait their turn. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TASKS_MAX_PARALLEL = 128;

  /**
   * Task runs at once on one server; more wait their turn. The default fits one pooled connection's channels
   * (SSH_MAX_CHANNELS), leaving the server's other connections to terminals, probes and deploys.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TASKS_MAX_PARALLEL_PER_SERVER = 10;

  /** Bound on an agent's deploy, restart or stop. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  AGENT_OPERATION_TIMEOUT_MS = 30_000;

  /** Bound on an agent's status answer. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  AGENT_STATUS_TIMEOUT_MS = 5000;

  /** How often service statuses are refreshed from the agents; 0 turns the periodic sync off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  SERVICE_SYNC_INTERVAL_MS = 15_000;

  /** Deploys, restarts and stops kept in each service's operation history (the newest). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SERVICE_OPERATIONS_KEEP = 100;

  /** `model` of a completions request that names none. */
  @IsString()
  @MinLength(1)
  CHAT_DEFAULT_MODEL = 'jiuge';

  /** Longest silence allowed between bytes of a model server's answer (no cap on the total). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  CHAT_IDLE_TIMEOUT_MS = 600_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  CHAT_CONNECT_TIMEOUT_MS = 5000;

  /** How long the /v1 gateway skips a replica whose model server refused or did not accept a connection. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  GATEWAY_COOLDOWN_SECONDS = 30;

  /** Longest stored chat message, in characters. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CHAT_MESSAGE_MAX_CHARS = 200_000;

  /** A browser terminal with neither input nor output for this long is closed. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  TERMINAL_IDLE_TIMEOUT_MS = 30 * 60_000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  TERMINAL_MAX_PER_SERVER = 32;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  TERMINAL_MAX_TOTAL = 256;

  /** Output a terminal may have in flight to a browser before the SSH stream is paused. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  TERMINAL_HIGH_WATER_BYTES = 1024 * 1024;

  /** How often open terminals check their caller again: a revoked token or a disabled or demoted user ends them. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  TERMINAL_REAUTH_INTERVAL_MS = 15_000;

  /** Output kept per command run; the rest is dropped and the result marked truncated. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;

  /** Off only for trusted single-user setups: every caller is then treated as an admin. */
  @Transform(toBoolean)
  @IsBoolean()
  AUTH_ENABLED = true;

  /** The admin created on first start, when there are no users yet. */
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_RULE })
  ADMIN_USERNAME = 'admin';

  /** That admin's password; unset: a strong one is generated and printed once to the log. */
  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(PASSWORD_MIN_LENGTH)
  ADMIN_PASSWORD?: string;

  /** Signs login tokens; unset: a secret generated once into DATA_DIR (mode 0600). */
  @Transform(blankToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32)
  JWT_SECRET?: string;

  /** Lifetime of a login token. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  JWT_EXPIRES_IN_SECONDS = 12 * 3600;

  /** Sign-in attempts, successful or not, allowed per client address per LOGIN_RATE_WINDOW_SECONDS. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_RATE_LIMIT_PER_IP = 20;

  /**
   * Failed sign-ins allowed per username from one client address per LOGIN_RATE_WINDOW_SECONDS; then that address
   * is refused for that username for the window. Unset or empty: LOGIN_RATE_LIMIT_PER_USER.
   */
  @Transform((params) => toInt({ value: blankToUndefined(params) }))
  @IsOptional()
  @IsInt()
  @Min(1)
  LOGIN_RATE_LIMIT_PER_USER_IP?: number;

  /** The older name of LOGIN_RATE_LIMIT_PER_USER_IP, read when that is unset (it once counted every address together). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_RATE_LIMIT_PER_USER = 5;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_RATE_WINDOW_SECONDS = 60;

  /**
   * Failed sign-ins per username from all addresses together per LOGIN_FAILURE_CEILING_WINDOW_SECONDS; once they are
   * reached the username is refused everywhere, even with the right password, for that window.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_FAILURE_CEILING_PER_USER = 100;

  /** The window of LOGIN_FAILURE_CEILING_PER_USER; failed and throttled sign-ins are audited as one row per username, address and window. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_FAILURE_CEILING_WINDOW_SECONDS = 900;

  /** Audit events older than this many days are deleted (at start-up, then daily); 0 keeps them forever. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  AUDIT_RETENTION_DAYS = 365;
}

/** Every variable EnvironmentVariables declares, optional ones included: each carries at least one validation rule. */
export const VARIABLE_NAMES = [
  ...new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
      .map((rule) => rule.propertyName),
  ),
];

/** Parses and validates `env`; throws one error naming every bad variable. */
export function validateEnvironment(env: Record<string, unknown>): EnvironmentVariables {
  const present = Object.fromEntries(VARIABLE_NAMES.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]));
  const parsed = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, forbidUnknownValues: true });
  if (errors.length > 0) {
    // One reason per variable: `PORT=abc` is not an integer, and that it is not within range as well would only
    // contradict it. Constraints come bottom decorator first, and each variable's top one says what kind of value it takes.
    const reasons = errors.map((error) => `${error.property}=${JSON.stringify(error.value)}: ${Object.values(error.constraints ?? {}).at(-1)}`);
    throw new Error(`Invalid configuration: ${reasons.join('; ')}`);
  }
  return parsed;
}

/** The last validated environment, and the values of its variables it was validated from. */
let validated: { source: string; env: EnvironmentVariables } | undefined;

/**
 * The validated environment of this process. Validated once per set of values rather than once per caller (every
 * config area asks at boot); keyed by the values, not held for good, so that tests that start apps with other
 * variables get those.
 */
export function environment(): EnvironmentVariables {
  const source = JSON.stringify(VARIABLE_NAMES.map((name) => process.env[name]));
  if (validated?.source !== source) validated = { source, env: validateEnvironment(process.env) };
  return validated.env;
}
