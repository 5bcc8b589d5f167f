import { AcceleratorVendor } from '../servers/accelerators/accelerator-metrics';
import { CardSample, ServerSample } from './server-sample.entity';

type ServerMetric = 'online' | 'cpu_usage' | 'memory_usage' | 'disk_usage';
type CardMetric = 'u' | 'mu' | 'mt' | 't' | 'p';

const SERVER_METRICS: ServerMetric[] = ['online', 'cpu_usage', 'memory_usage', 'disk_usage'];
const CARD_METRICS: CardMetric[] = ['u', 'mu', 'mt', 't', 'p'];

/** Sums and counts of one metric: nulls (not measured) count for nothing, so a gap is null, not zero. */
class Mean {
  private sum = 0;
  private count = 0;

  add(value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    this.sum += value;
    this.count++;
  }

  value(decimals: number): number | null {
    if (this.count === 0) return null;
    const scale = 10 ** decimals;
    return Math.round((this.sum / this.count) * scale) / scale;
  }
}

/** Rounding per metric: shares to two decimals, percents and watts to one, MiB and °C whole... as the tools print them. */
const DECIMALS: Record<ServerMetric | CardMetric, number> = {
  online: 2,
  cpu_usage: 1,
  memory_usage: 1,
  disk_usage: 1,
  u: 1,
  mu: 0,
  mt: 0,
  t: 1,
  p: 1,
};

/** The averages of the samples that fall into one bucket (a plot point, or a five-minute roll-up). */
export class SampleBucket {
  private readonly server = new Map(SERVER_METRICS.map((metric) => [metric, new Mean()]));
  private readonly cards = new Map<string, { index: number; vendor: AcceleratorVendor; name: string; means: Map<CardMetric, Mean> }>();

  add(sample: Pick<ServerSample, ServerMetric | 'cards'>): void {
    for (const metric of SERVER_METRICS) this.server.get(metric)!.add(sample[metric]);
    for (const card of sample.cards ?? []) {
      const key = cardKey(card);
      let entry = this.cards.get(key);
      if (!entry) {
        entry = { index: card.i, vendor: card.v, name: card.n, means: new Map(CARD_METRICS.map((metric) => [metric, new Mean()])) };
        this.cards.set(key, entry);
      }
      entry.name = card.n;
      for (const metric of CARD_METRICS) entry.means.get(metric)!.add(card[metric]);
    }
  }

  serverValue(metric: ServerMetric): number | null {
    return this.server.get(metric)!.value(DECIMALS[metric]);
  }

  /** Each card's averages, as a sample stores them. */
  cardValues(): CardSample[] {
    return [...this.cards.values()].map(({ index, vendor, name, means }) => ({
      i: index,
      v: vendor,
      n: name,
      u: means.get('u')!.value(DECIMALS.u),
      mu: means.get('mu')!.value(DECIMALS.mu),
      mt: means.get('mt')!.value(DECIMALS.mt),
      t: means.get('t')!.value(DECIMALS.t),
      p: means.get('p')!.value(DECIMALS.p),
    }));
  }
}

/** A card is the same card from sample to sample by its vendor and index. */
export function cardKey(card: Pick<CardSample, 'v' | 'i'>): string {
  return `${card.v}:${card.i}`;
}
