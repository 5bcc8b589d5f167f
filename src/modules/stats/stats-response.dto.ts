export class StatsResponse {
  server_count: number;
  service_count: number;
  /** Servers whose last reachability check found SSH reachable. */
  online_server_count: number;
}
