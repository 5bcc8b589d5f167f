import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { clusterConfig, ClusterConfig } from '../config/configuration';
import { redactedUrl } from '../common/text-output';

export type RedisStatus = 'up' | 'down' | 'off';

/** A Redis command past this fails: a stalled Redis costs a bounded wait, then the in-memory fallback. */
const COMMAND_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;

/**
 * The connections to REDIS_URL, which the instances sharing one database use to share events, limits and cache
 * invalidations. Without REDIS_URL there are none and every feature works in memory, for this instance alone.
 *
 * Redis is a help, never a condition: the backend starts and serves while it is away, says so loudly once per
 * outage, and ioredis reconnects (and re-subscribes) when it returns.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private readonly opened: Redis[] = [];
  private sharedCommands?: Redis;
  /** The roles of the connections that have failed since they were last ready. */
  private readonly lost = new Set<string>();

  constructor(@Inject(clusterConfig.KEY) private readonly config: ClusterConfig) {}

  get enabled(): boolean {
    return this.config.redisUrl !== null;
  }

  status(): RedisStatus {
    if (!this.enabled) return 'off';
    return this.opened.every((connection) => connection.status === 'ready') ? 'up' : 'down';
  }

  /**
   * The connection for commands (counters, publishes), shared. While Redis is unreachable its commands fail at once
   * instead of queueing, so callers fall back rather than wait.
   */
  commands(): Redis {
    this.sharedCommands ??= this.open('commands', { enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 0 });
    return this.sharedCommands;
  }

  /**
   * A connection of its own for one subscriber (a connection in subscriber mode runs no other commands). Its
   * subscriptions wait for Redis however long it is away, and are made again after every reconnect.
   */
  subscriber(role: string): Redis {
    return this.open(role, { maxRetriesPerRequest: null });
  }

  async onApplicationShutdown(): Promise<void> {
    // QUIT would wait in the offline queue of a connection that is down.
    const closing = this.opened.map(async (connection) => {
      if (connection.status !== 'ready') return connection.disconnect();
      await connection.quit().catch(() => connection.disconnect());
    });
    await Promise.all(closing);
  }

  private open(role: string, options: { enableOfflineQueue?: boolean; commandTimeout?: number; maxRetriesPerRequest: number | null }): Redis {
    const url = this.config.redisUrl;
    if (url === null) throw new Error('REDIS_URL is not set');
    const connection = new Redis(url, { ...options, connectTimeout: CONNECT_TIMEOUT_MS, connectionName: `infinistudio-${role}` });
    this.opened.push(connection);
    this.reportOutages(connection, role);
    return connection;
  }

  /**
   * ioredis reports every failed reconnect of every connection: one error when an outage starts (the first connection
   * lost), one line when it ends (all of them back).
   */
  private reportOutages(connection: Redis, role: string): void {
    connection.on('error', (error: Error) => {
      if (this.lost.has(role)) return;
      if (this.lost.size === 0) {
        this.logger.error(
          `Redis at ${redactedUrl(this.config.redisUrl!)} is unreachable (${error.message}): until it returns, events, ` +
            'limits and cache invalidations reach this instance only',
        );
      }
      this.lost.add(role);
    });
    connection.on('ready', () => {
      if (!this.lost.delete(role) || this.lost.size > 0) return;
      this.logger.log('Redis is back: events, limits and cache invalidations are shared again');
    });
  }
}
