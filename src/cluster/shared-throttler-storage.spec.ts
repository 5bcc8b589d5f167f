import Redis from 'ioredis';
import { SharedThrottlerStorage } from './shared-throttler-storage';

describe('SharedThrottlerStorage', () => {
  it('counts in memory while Redis cannot be reached, so a limit still holds rather than failing every sign-in', async () => {
    // Never connected, and commands fail at once rather than queue: how RedisConnections' command connection behaves
    // while Redis is away.
    const away = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    const storage = new SharedThrottlerStorage(away);
    try {
      const hits = [];
      for (let attempt = 0; attempt < 3; attempt++) hits.push(await storage.increment('login:ip', 60_000, 2, 60_000, 'default'));
      expect(hits.map(({ totalHits, isBlocked }) => ({ totalHits, isBlocked }))).toEqual([
        { totalHits: 1, isBlocked: false },
        { totalHits: 2, isBlocked: false },
        { totalHits: 3, isBlocked: true },
      ]);
    } finally {
      storage.onApplicationShutdown();
      away.disconnect();
    }
  });
});
