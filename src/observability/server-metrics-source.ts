import { AcceleratorVendor } from '../modules/servers/accelerators/accelerator-metrics';

/** One accelerator in a server's latest sample. */
export interface LatestCardSample {
  index: number;
  vendor: AcceleratorVendor;
  name: string;
  utilization: number | null;
  memory_used: number | null;
  memory_total: number | null;
  temperature: number | null;
  power_draw: number | null;
}

/** The latest sample the metrics sampler took of one server. */
export interface LatestServerSample {
  server_id: number;
  server_name: string;
  taken_at: Date;
  /** Whether the server answered the measurement. */
  online: boolean;
  cpu_usage: number | null;
  memory_usage: number | null;
  disk_usage: number | null;
  cards: LatestCardSample[];
}

/**
 * Where the Prometheus exporter reads the fleet's latest samples; implemented by the metrics feature, which owns
 * the samples. Abstract so that the exporter does not depend on that feature's internals.
 */
export abstract class ServerMetricsSource {
  abstract latest(): Promise<LatestServerSample[]>;
}
