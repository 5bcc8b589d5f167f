import { ClusterBus } from '../cluster/cluster-bus';
import { RedisConnections } from '../cluster/redis-connections';
import { ReadCache } from './read-cache.service';

/** No REDIS_URL: one instance, nothing published. */
const singleInstance = new ClusterBus(new RedisConnections({ redisUrl: null }));

describe('ReadCache', () => {
  const counter = () => {
    let calls = 0;
    return { load: () => Promise.resolve(++calls), calls: () => calls };
  };

  it('serves repeated reads from memory and shares a concurrent miss', async () => {
    const cache = new ReadCache({ ttlMs: 60_000 }, singleInstance);
    const source = counter();
    const results = await Promise.all([1, 2, 3].map(() => cache.get('brands', ['brands'], source.load)));
    expect(results).toEqual([1, 1, 1]);
    expect(await cache.get('brands', ['brands'], source.load)).toBe(1);
    expect(source.calls()).toBe(1);
  });

  it('reloads after a write to a table the read depends on, and only then', async () => {
    const cache = new ReadCache({ ttlMs: 60_000 }, singleInstance);
    const source = counter();
    await cache.get('stats', ['servers', 'services'], source.load);
    cache.invalidate('brands');
    expect(await cache.get('stats', ['servers', 'services'], source.load)).toBe(1);
    cache.invalidate('services');
    expect(await cache.get('stats', ['servers', 'services'], source.load)).toBe(2);
  });

  it('expires entries after the TTL and never caches with a TTL of 0', async () => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_000);
    const cache = new ReadCache({ ttlMs: 500 }, singleInstance);
    const source = counter();
    await cache.get('k', ['brands'], source.load);
    now.mockReturnValue(1_600);
    expect(await cache.get('k', ['brands'], source.load)).toBe(2);
    now.mockRestore();

    const uncached = new ReadCache({ ttlMs: 0 }, singleInstance);
    await uncached.get('k', ['brands'], source.load);
    expect(await uncached.get('k', ['brands'], source.load)).toBe(4);
  });

  it('does not keep a failed read', async () => {
    const cache = new ReadCache({ ttlMs: 60_000 }, singleInstance);
    await expect(cache.get('k', ['brands'], () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await cache.get('k', ['brands'], () => Promise.resolve('ok'))).toBe('ok');
  });
});
