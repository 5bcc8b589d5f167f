import pLimit from 'p-limit';

type Limit = ReturnType<typeof pLimit>;

/**
 * At most `perKey` calls at once for each key, and at most `overall` over all keys. A call takes its key's slot
 * before a shared one, so calls queued behind a busy key never hold the slots other keys could use.
 */
export class KeyedLimit {
  private readonly overall: Limit;
  private readonly byKey = new Map<number, Limit>();

  constructor(
    private readonly perKey: number,
    overall: number,
  ) {
    this.overall = pLimit(overall);
  }

  run<T>(key: number, call: () => Promise<T>): Promise<T> {
    let limit = this.byKey.get(key);
    if (!limit) {
      limit = pLimit(this.perKey);
      this.byKey.set(key, limit);
    }
    const keyLimit = limit;
    return keyLimit(() => this.overall(call)).finally(() => {
      // An idle key's queue is dropped, so keys that come and go do not pile up.
      if (keyLimit.activeCount === 0 && keyLimit.pendingCount === 0 && this.byKey.get(key) === keyLimit) this.byKey.delete(key);
    });
  }
}
