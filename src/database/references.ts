/** A row of another feature that references a row of the owner's table. */
export interface Referrer {
  kind: string;
  id: number;
  name: string;
}

/** Answered by the feature that owns the referencing table: its rows that reference the owner's row `id`. */
export type ReferrerLookup = (id: number) => Promise<Pick<Referrer, 'id' | 'name'>[]>;

/**
 * Which rows of other features still reference one of a feature's rows, for refusing a delete with a message that
 * names them (the schema's foreign keys refuse it too, but name only a constraint). The referencing features register their
 * lookups with the owner's service — they depend on the owner, never the other way round — so the owner reads no
 * other feature's tables and the modules import each other in one direction only.
 */
export class ReferenceChecks {
  private readonly lookups = new Map<string, ReferrerLookup>();

  register(kind: string, lookup: ReferrerLookup): void {
    this.lookups.set(kind, lookup);
  }

  /** Every referrer of row `id`, kinds in alphabetical order: the order modules start in must not change messages. */
  async referrersOf(id: number): Promise<Referrer[]> {
    const kinds = [...this.lookups.keys()].sort();
    const found = await Promise.all(kinds.map(async (kind) => (await this.lookups.get(kind)!(id)).map((row) => ({ kind, ...row }))));
    return found.flat();
  }
}
