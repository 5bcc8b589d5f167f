import { Injectable, Logger } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { LatestCardSample, LatestServerSample, ServerMetricsSource } from './server-metrics-source';

type ServerLabel = 'server_id' | 'server';
type CardLabel = ServerLabel | 'vendor' | 'index' | 'card';

const MIB = 1024 * 1024;

/**
 * The fleet's latest samples as gauges, per server and per accelerator card. Refreshed from ServerMetricsSource at each
 * scrape, all at once, so that a server or card gone since the last one disappears instead of keeping its last value;
 * values a server or card could not report are left out rather than exported as 0.
 */
@Injectable()
export class FleetMetrics {
  private readonly logger = new Logger(FleetMetrics.name);
  private sourceFailing = false;
  private readonly serverUp: Gauge<ServerLabel>;
  private readonly serverCpu: Gauge<ServerLabel>;
  private readonly serverMemory: Gauge<ServerLabel>;
  private readonly serverDisk: Gauge<ServerLabel>;
  private readonly sampleAge: Gauge<ServerLabel>;
  private readonly cardUtilization: Gauge<CardLabel>;
  private readonly cardMemoryUsed: Gauge<CardLabel>;
  private readonly cardMemoryTotal: Gauge<CardLabel>;
  private readonly cardTemperature: Gauge<CardLabel>;
  private readonly cardPower: Gauge<CardLabel>;

  constructor(
    registry: Registry,
    private readonly source: ServerMetricsSource,
  ) {
    const serverGauge = (name: string, help: string) =>
      new Gauge<ServerLabel>({ name, help, labelNames: ['server_id', 'server'], registers: [registry] });
    const cardGauge = (name: string, help: string) =>
      new Gauge<CardLabel>({ name, help, labelNames: ['server_id', 'server', 'vendor', 'index', 'card'], registers: [registry] });
    this.serverUp = serverGauge('infinistudio_server_up', 'Whether the server answered its latest measurement (1) or not (0)');
    this.serverCpu = serverGauge('infinistudio_server_cpu_usage_percent', 'CPU usage of the server in its latest sample');
    this.serverMemory = serverGauge('infinistudio_server_memory_usage_percent', 'Memory usage of the server in its latest sample');
    this.serverDisk = serverGauge('infinistudio_server_disk_usage_percent', 'Disk usage of the server in its latest sample');
    this.sampleAge = serverGauge('infinistudio_server_sample_age_seconds', "Age of the server's latest sample");
    this.cardUtilization = cardGauge('infinistudio_accelerator_utilization_percent', 'Utilization of an accelerator card');
    this.cardMemoryUsed = cardGauge('infinistudio_accelerator_memory_used_bytes', 'Memory in use on an accelerator card');
    this.cardMemoryTotal = cardGauge('infinistudio_accelerator_memory_total_bytes', 'Memory of an accelerator card');
    this.cardTemperature = cardGauge('infinistudio_accelerator_temperature_celsius', 'Temperature of an accelerator card');
    this.cardPower = cardGauge('infinistudio_accelerator_power_watts', 'Power draw of an accelerator card');
  }

  /** Replaces every gauge with the latest samples; when they cannot be read, the gauges are left empty for this scrape. */
  async refresh(): Promise<void> {
    let samples: LatestServerSample[];
    try {
      samples = await this.source.latest();
      if (this.sourceFailing) this.logger.log('The latest server samples can be read again');
      this.sourceFailing = false;
    } catch (error) {
      // Once per outage, not at every scrape.
      if (!this.sourceFailing) this.logger.warn(`Fleet gauges are left out: the latest server samples cannot be read: ${String(error)}`);
      this.sourceFailing = true;
      samples = [];
    }
    const now = Date.now();
    for (const gauge of this.gauges()) gauge.reset();
    for (const sample of samples) {
      const server = { server_id: String(sample.server_id), server: sample.server_name };
      this.serverUp.set(server, sample.online ? 1 : 0);
      setKnown(this.serverCpu, server, sample.cpu_usage);
      setKnown(this.serverMemory, server, sample.memory_usage);
      setKnown(this.serverDisk, server, sample.disk_usage);
      this.sampleAge.set(server, Math.max(0, (now - sample.taken_at.getTime()) / 1000));
      for (const card of sample.cards) this.setCard(server, card);
    }
  }

  private setCard(server: Record<ServerLabel, string>, card: LatestCardSample): void {
    const labels = { ...server, vendor: card.vendor, index: String(card.index), card: card.name };
    setKnown(this.cardUtilization, labels, card.utilization);
    // The samples count memory in MiB; Prometheus counts in base units.
    setKnown(this.cardMemoryUsed, labels, card.memory_used === null ? null : card.memory_used * MIB);
    setKnown(this.cardMemoryTotal, labels, card.memory_total === null ? null : card.memory_total * MIB);
    setKnown(this.cardTemperature, labels, card.temperature);
    setKnown(this.cardPower, labels, card.power_draw);
  }

  private gauges(): Gauge<string>[] {
    return [
      this.serverUp,
      this.serverCpu,
      this.serverMemory,
      this.serverDisk,
      this.sampleAge,
      this.cardUtilization,
      this.cardMemoryUsed,
      this.cardMemoryTotal,
      this.cardTemperature,
      this.cardPower,
    ];
  }
}

function setKnown<T extends string>(gauge: Gauge<T>, labels: Record<T, string>, value: number | null): void {
  if (value !== null) gauge.set(labels, value);
}
