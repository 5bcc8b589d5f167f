import { ConfigType, registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { parseTrustProxy } from '../common/trust-proxy';
import { environment } from './environment';

export const httpConfig = registerAs('http', () => {
  const env = environment();
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins: env.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  };
});

export const storageConfig = registerAs('storage', () => {
  const env = environment();
  const dataDir = resolve(env.DATA_DIR);
  return {
    dataDir,
    uploadDir: resolve(dataDir, 'uploads'),
    uploadMaxBytes: env.UPLOAD_MAX_BYTES,
    uiDir: env.UI_DIR === undefined ? undefined : resolve(env.UI_DIR),
  };
});

export const databaseConfig = registerAs('database', () => {
  const env = environment();
  return env.DATABASE_URL
    ? ({ kind: 'postgres', url: env.DATABASE_URL } as const)
    : ({ kind: 'sqlite', file: resolve(env.DATA_DIR, 'infini.db') } as const);
});

export const readCacheConfig = registerAs('readCache', () => ({ ttlMs: environment().READ_CACHE_TTL_MS }));

export const clusterConfig = registerAs('cluster', () => ({ redisUrl: environment().REDIS_URL ?? null }));

export const sshConfig = registerAs('ssh', () => {
  const env = environment();
  return {
    connectTimeoutMs: env.SSH_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: env.SSH_IDLE_TIMEOUT_MS,
    keepaliveIntervalMs: env.SSH_KEEPALIVE_INTERVAL_MS,
    maxChannelsPerConnection: env.SSH_MAX_CHANNELS,
    channelOpenTimeoutMs: env.SSH_CHANNEL_OPEN_TIMEOUT_MS,
    maxConnectionsPerServer: env.SSH_MAX_CONNECTIONS_PER_SERVER,
    maxOutputBytes: env.EXEC_MAX_OUTPUT_BYTES,
  };
});

export const terminalConfig = registerAs('terminal', () => {
  const env = environment();
  return {
    idleTimeoutMs: env.TERMINAL_IDLE_TIMEOUT_MS,
    maxPerServer: env.TERMINAL_MAX_PER_SERVER,
    maxTotal: env.TERMINAL_MAX_TOTAL,
    highWaterBytes: env.TERMINAL_HIGH_WATER_BYTES,
    reauthIntervalMs: env.TERMINAL_REAUTH_INTERVAL_MS,
  };
});

export const serversConfig = registerAs('servers', () => {
  const env = environment();
  return {
    checkTimeoutMs: env.SERVER_CHECK_TIMEOUT_MS,
    resourcesTimeoutMs: env.RESOURCES_TIMEOUT_MS,
    resourcesToolTimeoutSeconds: env.RESOURCES_TOOL_TIMEOUT_SECONDS,
    resourcesConcurrency: env.RESOURCES_CONCURRENCY,
  };
});

export const metricsConfig = registerAs('metrics', () => {
  const env = environment();
  return {
    intervalSeconds: env.METRICS_INTERVAL_SECONDS,
    rawHours: env.METRICS_RAW_HOURS,
    historyDays: env.METRICS_HISTORY_DAYS,
    concurrency: env.RESOURCES_CONCURRENCY,
  };
});

export const servicesConfig = registerAs('services', () => {
  const env = environment();
  return {
    agentOperationTimeoutMs: env.AGENT_OPERATION_TIMEOUT_MS,
    agentStatusTimeoutMs: env.AGENT_STATUS_TIMEOUT_MS,
    syncIntervalMs: env.SERVICE_SYNC_INTERVAL_MS,
    operationsKept: env.SERVICE_OPERATIONS_KEEP,
  };
});

export const chatConfig = registerAs('chat', () => {
  const env = environment();
  return {
    defaultModel: env.CHAT_DEFAULT_MODEL,
    idleTimeoutMs: env.CHAT_IDLE_TIMEOUT_MS,
    connectTimeoutMs: env.CHAT_CONNECT_TIMEOUT_MS,
    messageMaxChars: env.CHAT_MESSAGE_MAX_CHARS,
    gatewayCooldownMs: env.GATEWAY_COOLDOWN_SECONDS * 1000,
  };
});

export const tasksConfig = registerAs('tasks', () => {
  const env = environment();
  return {
    timeoutSeconds: env.TASK_TIMEOUT_SECONDS,
    schedulerEnabled: env.SCHEDULER_ENABLED,
    defaultTimezone: env.SCHEDULER_TIMEZONE,
    pollMs: env.SCHEDULER_POLL_MS,
    misfire: env.SCHEDULER_MISFIRE,
    runsKept: env.TASK_RUNS_KEEP,
    maxParallel: env.TASKS_MAX_PARALLEL,
    maxParallelPerServer: env.TASKS_MAX_PARALLEL_PER_SERVER,
  };
});

export const secretsConfig = registerAs('secrets', () => {
  const env = environment();
  return { encryptionKey: env.ENCRYPTION_KEY, keyFile: resolve(env.DATA_DIR, 'encryption.key') };
});

export const authConfig = registerAs('auth', () => {
  const env = environment();
  return {
    enabled: env.AUTH_ENABLED,
    adminUsername: env.ADMIN_USERNAME,
    adminPassword: env.ADMIN_PASSWORD,
    jwtSecret: env.JWT_SECRET,
    jwtSecretFile: resolve(env.DATA_DIR, 'jwt.secret'),
    tokenTtlSeconds: env.JWT_EXPIRES_IN_SECONDS,
    loginLimitPerIp: env.LOGIN_RATE_LIMIT_PER_IP,
    loginFailuresPerUserIp: env.LOGIN_RATE_LIMIT_PER_USER_IP ?? env.LOGIN_RATE_LIMIT_PER_USER,
    loginWindowMs: env.LOGIN_RATE_WINDOW_SECONDS * 1000,
    loginFailureCeiling: env.LOGIN_FAILURE_CEILING_PER_USER,
    loginFailureCeilingWindowMs: env.LOGIN_FAILURE_CEILING_WINDOW_SECONDS * 1000,
  };
});

export const auditConfig = registerAs('audit', () => ({ retentionDays: environment().AUDIT_RETENTION_DAYS }));

export type HttpConfig = ConfigType<typeof httpConfig>;
export type StorageConfig = ConfigType<typeof storageConfig>;
export type DatabaseConfig = ConfigType<typeof databaseConfig>;
export type ReadCacheConfig = ConfigType<typeof readCacheConfig>;
export type ClusterConfig = ConfigType<typeof clusterConfig>;
export type SshConfig = ConfigType<typeof sshConfig>;
export type TerminalConfig = ConfigType<typeof terminalConfig>;
export type ServersConfig = ConfigType<typeof serversConfig>;
export type MetricsConfig = ConfigType<typeof metricsConfig>;
export type ServicesConfig = ConfigType<typeof servicesConfig>;
export type ChatConfig = ConfigType<typeof chatConfig>;
export type TasksConfig = ConfigType<typeof tasksConfig>;
export type SecretsConfig = ConfigType<typeof secretsConfig>;
export type AuthConfig = ConfigType<typeof authConfig>;
export type AuditConfig = ConfigType<typeof auditConfig>;
