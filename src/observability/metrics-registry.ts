import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The registry `GET /metrics` serialises: one per application rather than prom-client's global one, so that every
 * metric is registered where it is injected and apps started side by side (the e2e suites) keep their own counts.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  // Node's and the process's own: CPU, resident memory, heap, event loop lag, open handles (standard names, no prefix).
  collectDefaultMetrics({ register: registry });
  return registry;
}
