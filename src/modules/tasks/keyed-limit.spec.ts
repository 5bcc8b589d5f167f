import { KeyedLimit } from './keyed-limit';

/** A call that runs until released, recording when it started. */
function gate(started: string[], name: string): { call: () => Promise<string>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    call: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

/** Lets every settled promise's reactions run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedLimit', () => {
  it('runs at most perKey calls of one key at once, and calls of other keys beside them', async () => {
    const limit = new KeyedLimit(1, 10);
    const started: string[] = [];
    const [a1, a2, b1] = [gate(started, 'a1'), gate(started, 'a2'), gate(started, 'b1')];
    const results = [limit.run(1, a1.call), limit.run(1, a2.call), limit.run(2, b1.call)];
    await settle();
    expect(started).toEqual(['a1', 'b1']);
    a1.release();
    await settle();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    a2.release();
    b1.release();
    expect(await Promise.all(results)).toEqual(['a1', 'a2', 'b1']);
  });

  it('runs at most `overall` calls in all, and a queued key does not hold a shared slot', async () => {
    const limit = new KeyedLimit(1, 2);
    const started: string[] = [];
    const calls = ['a1', 'a2', 'b1', 'c1'].map((name) => gate(started, name));
    const results = calls.map((call, index) => limit.run([1, 1, 2, 3][index], call.call));
    await settle();
    // a2 waits for key 1, so b1 takes the second shared slot; c1 waits for a shared one.
    expect(started).toEqual(['a1', 'b1']);
    calls[2].release();
    await settle();
    expect(started).toEqual(['a1', 'b1', 'c1']);
    for (const call of calls) call.release();
    expect(await Promise.all(results)).toEqual(['a1', 'a2', 'b1', 'c1']);
  });

  it('passes a failure on and frees the slot', async () => {
    const limit = new KeyedLimit(1, 1);
    await expect(limit.run(1, () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    await expect(limit.run(1, () => Promise.resolve('next'))).resolves.toBe('next');
  });
});
