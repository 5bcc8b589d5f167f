import { ReplicaHooks } from '../chat/model-server.client';

/**
 * Spreads requests over the replicas of a model (the model servers of its services' servers): fewest requests in
 * flight first, ties taken in turn; a replica that refused or did not accept a connection goes last for a cool-down.
 * In memory: each backend instance balances what it sends.
 */
export class ReplicaBalancer implements ReplicaHooks {
  private readonly outstanding = new Map<string, number>();
  private readonly coolingUntil = new Map<string, number>();
  private turn = 0;

  constructor(
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `replicas` in the order to try them. */
  order<T>(replicas: T[], addressOf: (replica: T) => string): T[] {
    const now = this.now();
    const start = this.turn++;
    const ranked = replicas.map((replica, position) => {
      const address = addressOf(replica);
      return {
        replica,
        cooling: (this.coolingUntil.get(address) ?? 0) > now ? 1 : 0,
        busy: this.outstanding.get(address) ?? 0,
        turn: (position - (start % replicas.length) + replicas.length) % replicas.length,
      };
    });
    ranked.sort((a, b) => a.cooling - b.cooling || a.busy - b.busy || a.turn - b.turn);
    return ranked.map(({ replica }) => replica);
  }

  attempt(address: string): () => void {
    this.outstanding.set(address, (this.outstanding.get(address) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.outstanding.get(address) ?? 1) - 1;
      if (left > 0) this.outstanding.set(address, left);
      else this.outstanding.delete(address);
    };
  }

  unreachable(address: string): void {
    this.coolingUntil.set(address, this.now() + this.cooldownMs);
  }

  /** Requests in flight to `address`. */
  inFlight(address: string): number {
    return this.outstanding.get(address) ?? 0;
  }
}
