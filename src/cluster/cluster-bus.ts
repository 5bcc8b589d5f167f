import { Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisConnections } from './redis-connections';

type Handler = (payload: unknown) => void;

interface Envelope {
  from: string;
  payload: unknown;
}

const CHANNEL_PREFIX = 'infinistudio:bus:';

/**
 * Messages from one instance to every other instance on the same Redis (never back to the sender, which acts on its
 * own change directly). Without Redis, or while it is away, a publish reaches no one: what is sent here must only
 * speed up what a TTL or a periodic check would reach anyway.
 */
@Injectable()
export class ClusterBus {
  private readonly logger = new Logger(ClusterBus.name);
  private readonly instanceId = randomUUID();
  private readonly handlers = new Map<string, Handler>();
  private subscriber?: Redis;

  constructor(private readonly redis: RedisConnections) {}

  publish(topic: string, payload: unknown): void {
    if (!this.redis.enabled) return;
    const envelope: Envelope = { from: this.instanceId, payload };
    // Failures are reported by RedisConnections, once per outage.
    this.redis
      .commands()
      .publish(CHANNEL_PREFIX + topic, JSON.stringify(envelope))
      .catch(() => undefined);
  }

  /** Calls `handler` with what other instances publish on `topic`; one handler per topic. */
  subscribe(topic: string, handler: Handler): void {
    if (!this.redis.enabled) return;
    this.handlers.set(CHANNEL_PREFIX + topic, handler);
    if (!this.subscriber) {
      this.subscriber = this.redis.subscriber('bus');
      this.subscriber.on('message', (channel: string, message: string) => this.deliver(channel, message));
    }
    // Queued until Redis answers, however long that takes (see RedisConnections.subscriber).
    this.subscriber.subscribe(CHANNEL_PREFIX + topic).catch((error: Error) => this.logger.error(`Could not subscribe to ${topic}: ${error.message}`));
  }

  private deliver(channel: string, message: string): void {
    const handler = this.handlers.get(channel);
    if (!handler) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch {
      return;
    }
    if (envelope.from !== this.instanceId) handler(envelope.payload);
  }
}
