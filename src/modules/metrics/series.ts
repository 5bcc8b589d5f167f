import { AcceleratorVendor } from '../servers/accelerators/accelerator-metrics';
import { cardKey, SampleBucket } from './sample-averages';
import { SampleValues } from './server-samples.repository';
import { ServerSample } from './server-sample.entity';

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

/** Averages `samples` into steps of `stepSeconds` from `from` to `to`; a step without samples is null everywhere. */
export function toSeries(samples: Pick<ServerSample, 'taken_at' | keyof SampleValues>[], from: Date, to: Date, stepSeconds: number): MetricSeries {
  const stepMs = stepSeconds * 1000;
  const count = Math.max(0, Math.ceil((to.getTime() - from.getTime()) / stepMs));
  const buckets = Array.from({ length: count }, () => new SampleBucket());
  const cards = new Map<string, { index: number; vendor: AcceleratorVendor; name: string }>();
  for (const sample of samples) {
    const at = Math.floor((sample.taken_at.getTime() - from.getTime()) / stepMs);
    if (at < 0 || at >= count) continue;
    buckets[at].add(sample);
    for (const card of sample.cards ?? []) cards.set(cardKey(card), { index: card.i, vendor: card.v, name: card.n });
  }
  const cardValues = buckets.map((bucket) => new Map(bucket.cardValues().map((card) => [cardKey(card), card])));
  const cardOrder = [...cards.entries()].sort(([, a], [, b]) => a.vendor.localeCompare(b.vendor) || a.index - b.index);
  return {
    from,
    to,
    step: stepSeconds,
    timestamps: buckets.map((_, index) => new Date(from.getTime() + index * stepMs)),
    online: buckets.map((bucket) => bucket.serverValue('online')),
    cpu_usage: buckets.map((bucket) => bucket.serverValue('cpu_usage')),
    memory_usage: buckets.map((bucket) => bucket.serverValue('memory_usage')),
    disk_usage: buckets.map((bucket) => bucket.serverValue('disk_usage')),
    cards: cardOrder.map(([key, card]) => {
      const at = (k: number) => cardValues[k].get(key);
      return {
        ...card,
        utilization: buckets.map((_, k) => at(k)?.u ?? null),
        memory_used: buckets.map((_, k) => at(k)?.mu ?? null),
        memory_total: buckets.map((_, k) => at(k)?.mt ?? null),
        temperature: buckets.map((_, k) => at(k)?.t ?? null),
        power_draw: buckets.map((_, k) => at(k)?.p ?? null),
      };
    }),
  };
}

/** Raw samples averaged per server into epoch-aligned buckets of `bucketMs`, as roll-up rows. */
export function rollUp(samples: ServerSample[], bucketMs: number): (SampleValues & { server_id: number; taken_at: Date })[] {
  const buckets = new Map<string, { server_id: number; taken_at: Date; bucket: SampleBucket }>();
  for (const sample of samples) {
    const start = Math.floor(sample.taken_at.getTime() / bucketMs) * bucketMs;
    const key = `${sample.server_id}:${start}`;
    let entry = buckets.get(key);
    if (!entry) {
      entry = { server_id: sample.server_id, taken_at: new Date(start), bucket: new SampleBucket() };
      buckets.set(key, entry);
    }
    entry.bucket.add(sample);
  }
  return [...buckets.values()].map(({ server_id, taken_at, bucket }) => {
    const cards = bucket.cardValues();
    return {
      server_id,
      taken_at,
      online: bucket.serverValue('online'),
      cpu_usage: bucket.serverValue('cpu_usage'),
      memory_usage: bucket.serverValue('memory_usage'),
      disk_usage: bucket.serverValue('disk_usage'),
      cards: cards.length > 0 ? cards : null,
    };
  });
}
