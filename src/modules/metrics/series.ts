import { AcceleratorVendor } from '../servers/accelerators/accelerator-metrics';
import { CardSample, SampleValues, ServerSample } from './server-sample.entity';

/** One card's values over time, a value per timestamp (null where it reported nothing). */
export interface CardSeries {
  index: number;
  vendor: AcceleratorVendor;
  name: string;
  utilization: (number | null)[];
  memory_used: (number | null)[];
  memory_total: (number | null)[];
  temperature: (number | null)[];
  power_draw: (number | null)[];
}

/** Plot-ready metrics: `timestamps[k]` starts the step whose average each series holds at `k`. */
export interface MetricSeries {
  from: Date;
  to: Date;
  step: number;
  timestamps: Date[];
  online: (number | null)[];
  cpu_usage: (number | null)[];
  memory_usage: (number | null)[];
  disk_usage: (number | null)[];
  cards: CardSeries[];
}

export type SeriesSample = Pick<ServerSample, 'taken_at' | keyof SampleValues>;

const SERVER_METRICS = ['online', 'cpu_usage', 'memory_usage', 'disk_usage'] as const;
const CARD_METRICS = ['u', 'mu', 'mt', 't', 'p'] as const;
/** Rounding of the averages: a share to two decimals, percents, °C and watts to one, MiB whole. */
const SERVER_DECIMALS = [2, 1, 1, 1];
const CARD_DECIMALS = [1, 0, 0, 1, 1];

/**
 * Means of `metrics` values per bucket, in flat arrays: a day at one-minute steps for a server with eight cards is
 * 60,000 cells, too many for an object each. A null (not measured) counts for nothing, so a gap stays null.
 */
class MeanGrid {
  private readonly sums: Float64Array;
  private readonly counts: Uint32Array;

  constructor(
    private readonly buckets: number,
    private readonly metrics: number,
  ) {
    this.sums = new Float64Array(buckets * metrics);
    this.counts = new Uint32Array(buckets * metrics);
  }

  add(bucket: number, metric: number, value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    this.sums[bucket * this.metrics + metric] += value;
    this.counts[bucket * this.metrics + metric]++;
  }

  /** The metric's mean in every bucket. */
  series(metric: number, decimals: number): (number | null)[] {
    const scale = 10 ** decimals;
    const values = new Array<number | null>(this.buckets);
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      const cell = bucket * this.metrics + metric;
      values[bucket] = this.counts[cell] === 0 ? null : Math.round((this.sums[cell] / this.counts[cell]) * scale) / scale;
    }
    return values;
  }
}

type CardEntry = { card: Pick<CardSeries, 'index' | 'vendor' | 'name'>; grid: MeanGrid };

/** Averages `samples` into steps of `stepSeconds` from `from` to `to`; a step without samples is null everywhere. */
export function toSeries(samples: SeriesSample[], from: Date, to: Date, stepSeconds: number): MetricSeries {
  const stepMs = stepSeconds * 1000;
  const fromMs = from.getTime();
  const count = Math.max(0, Math.ceil((to.getTime() - fromMs) / stepMs));
  const server = new MeanGrid(count, SERVER_METRICS.length);
  const cards = new Map<string, CardEntry>();
  // A server lists its cards in the same order sample after sample: the entry at the same place is nearly always the card.
  const byPlace: CardEntry[] = [];
  for (const sample of samples) {
    const bucket = Math.floor((sample.taken_at.getTime() - fromMs) / stepMs);
    if (bucket < 0 || bucket >= count) continue;
    // Spelled out in SERVER_METRICS' and CARD_METRICS' order: a loop over the names is a keyed read each, twice the time.
    server.add(bucket, 0, sample.online);
    server.add(bucket, 1, sample.cpu_usage);
    server.add(bucket, 2, sample.memory_usage);
    server.add(bucket, 3, sample.disk_usage);
    const sampleCards = sample.cards ?? [];
    for (let place = 0; place < sampleCards.length; place++) {
      const card = sampleCards[place];
      let entry: CardEntry | undefined = byPlace[place];
      if (entry?.card.index !== card.i || entry.card.vendor !== card.v) {
        const key = `${card.v}:${card.i}`;
        entry = cards.get(key);
        if (!entry) {
          entry = { card: { index: card.i, vendor: card.v, name: card.n }, grid: new MeanGrid(count, CARD_METRICS.length) };
          cards.set(key, entry);
        }
        byPlace[place] = entry;
      }
      entry.card.name = card.n;
      entry.grid.add(bucket, 0, card.u);
      entry.grid.add(bucket, 1, card.mu);
      entry.grid.add(bucket, 2, card.mt);
      entry.grid.add(bucket, 3, card.t);
      entry.grid.add(bucket, 4, card.p);
    }
  }
  const [online, cpu_usage, memory_usage, disk_usage] = SERVER_METRICS.map((_, m) => server.series(m, SERVER_DECIMALS[m]));
  return {
    from,
    to,
    step: stepSeconds,
    timestamps: Array.from({ length: count }, (_, bucket) => new Date(from.getTime() + bucket * stepMs)),
    online,
    cpu_usage,
    memory_usage,
    disk_usage,
    cards: [...cards.values()]
      .sort((a, b) => a.card.vendor.localeCompare(b.card.vendor) || a.card.index - b.card.index)
      .map(({ card, grid }) => {
        const [utilization, memory_used, memory_total, temperature, power_draw] = CARD_METRICS.map((_, m) => grid.series(m, CARD_DECIMALS[m]));
        return { ...card, utilization, memory_used, memory_total, temperature, power_draw };
      }),
  };
}

/** Raw samples averaged per server into epoch-aligned buckets of `bucketMs`, as roll-up rows (empty buckets left out). */
export function rollUp(samples: ServerSample[], bucketMs: number): (SampleValues & { server_id: number; taken_at: Date })[] {
  const byServer = new Map<number, ServerSample[]>();
  for (const sample of samples) {
    if (!byServer.has(sample.server_id)) byServer.set(sample.server_id, []);
    byServer.get(sample.server_id)!.push(sample);
  }
  const bucketOf = (sample: ServerSample) => Math.floor(sample.taken_at.getTime() / bucketMs) * bucketMs;
  return [...byServer.entries()].flatMap(([server_id, serverSamples]) => {
    const occupied = new Set(serverSamples.map(bucketOf));
    const from = Math.min(...occupied);
    const series = toSeries(serverSamples, new Date(from), new Date(Math.max(...occupied) + bucketMs), bucketMs / 1000);
    return series.timestamps.flatMap((taken_at, k) => {
      if (!occupied.has(taken_at.getTime())) return [];
      const cards = series.cards.map((card) => cardSampleAt(card, k)).filter((card) => card !== null);
      const { online, cpu_usage, memory_usage, disk_usage } = series;
      return [
        {
          server_id,
          taken_at,
          online: online[k],
          cpu_usage: cpu_usage[k],
          memory_usage: memory_usage[k],
          disk_usage: disk_usage[k],
          cards: cards.length > 0 ? cards : null,
        },
      ];
    });
  });
}

/** A card's averages at step `k` as a sample stores them; null when it reported nothing in that step. */
function cardSampleAt(card: CardSeries, k: number): CardSample | null {
  const values = { u: card.utilization[k], mu: card.memory_used[k], mt: card.memory_total[k], t: card.temperature[k], p: card.power_draw[k] };
  return Object.values(values).every((value) => value === null) ? null : { i: card.index, v: card.vendor, n: card.name, ...values };
}
