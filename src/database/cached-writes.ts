import { ReadCache, TableName } from './read-cache.service';

/**
 * The one write path of a repository whose tables the read cache serves: each write goes through `run`, which
 * forgets the cached reads of the repository's tables once the write has succeeded, so no write can leave them stale.
 */
export class CachedWrites {
  private readonly tables: readonly TableName[];

  /** `tables`: those the repository writes to. */
  constructor(
    private readonly cache: ReadCache,
    ...tables: TableName[]
  ) {
    this.tables = tables;
  }

  /** Performs `write`, then invalidates the repository's tables and `alsoChanged` (tables the schema cascades to). */
  async run<T>(write: () => Promise<T>, ...alsoChanged: TableName[]): Promise<T> {
    const result = await write();
    this.cache.invalidate(...this.tables, ...alsoChanged);
    return result;
  }

  /**
   * For a conditional write (an UPDATE whose WHERE may match nothing): invalidates only when a row changed, so a
   * frequent no-op (a status sync that finds nothing new) keeps the cached lists. Returns whether a row changed.
   */
  async runIfChanged(write: () => Promise<{ affected?: number | null }>): Promise<boolean> {
    const changed = ((await write()).affected ?? 0) > 0;
    if (changed) this.cache.invalidate(...this.tables);
    return changed;
  }
}
