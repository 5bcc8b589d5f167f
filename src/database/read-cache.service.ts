import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { ClusterBus } from '../cluster/cluster-bus';
import { readCacheConfig, ReadCacheConfig } from '../config/configuration';

const TABLE_NAMES = [
  'brands',
  'accelerator_cards',
  'models',
  'servers',
  'services',
  'tasks',
  'chat_history',
  'users',
  'api_tokens',
  'revoked_sessions',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** The bus topic on which instances tell each other which tables they wrote. */
const INVALIDATION_TOPIC = 'read-cache';

/**
 * A cached read serialized once, as the UTF-8 bytes sent (not text to encode per request), with a strong ETag of those
 * bytes (a hash paid once per fill, not per request).
 */
export interface CachedJson {
  body: Buffer;
  etag: string;
}

interface Entry {
  tables: readonly TableName[];
  expiresAt: number;
  value: Promise<unknown>;
}

/**
 * Keeps the results of hot read queries (lists, overview counts) in memory. Every read names the tables
 * it depends on and every repository write invalidates the tables it touches (through CachedWrites), so this process never
 * serves its own stale data. Other instances on the same Redis are told of the tables at once; the TTL bounds staleness
 * caused by writers it cannot hear (no Redis, Redis away, another tool). Concurrent misses share one query. Cached
 * values are shared: callers must not mutate them.
 */
@Injectable()
export class ReadCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    @Inject(readCacheConfig.KEY) private readonly config: ReadCacheConfig,
    private readonly bus: ClusterBus,
  ) {
    bus.subscribe(INVALIDATION_TOPIC, (tables) => {
      if (Array.isArray(tables)) this.forget(tables.filter(isTableName));
    });
  }

  get<T>(key: string, tables: readonly TableName[], load: () => Promise<T>): Promise<T> {
    if (this.config.ttlMs === 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) return hit.value as Promise<T>;
    const entry: Entry = { tables, expiresAt: now + this.config.ttlMs, value: load() };
    this.entries.set(key, entry);
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value as Promise<T>;
  }

  /** `get` that loads anew, for a caller holding proof that the cached value is stale (a write this process did not hear). */
  refresh<T>(key: string, tables: readonly TableName[], load: () => Promise<T>): Promise<T> {
    this.entries.delete(key);
    return this.get(key, tables, load);
  }

  /**
   * Like `get`, but keeps the result serialized, with its ETag: a hot list is then sent as the same bytes again and
   * again (or as a 304 to a client that has them), without re-running JSON.stringify for every request.
   */
  getJson(key: string, tables: readonly TableName[], load: () => Promise<unknown>): Promise<CachedJson> {
    return this.get(`${key}#json`, tables, async () => {
      const body = Buffer.from(JSON.stringify(await load()));
      return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    });
  }

  /** Forgets every cached read that depends on one of `tables`, here and on every other instance. Call after the write has committed. */
  invalidate(...tables: TableName[]): void {
    this.forget(tables);
    this.bus.publish(INVALIDATION_TOPIC, tables);
  }

  clear(): void {
    this.entries.clear();
  }

  private forget(tables: readonly TableName[]): void {
    for (const [key, entry] of this.entries) {
      if (entry.tables.some((table) => tables.includes(table))) this.entries.delete(key);
    }
  }
}

function isTableName(value: unknown): value is TableName {
  return (TABLE_NAMES as readonly unknown[]).includes(value);
}
