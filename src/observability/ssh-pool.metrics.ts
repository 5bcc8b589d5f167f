import { Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { PoolState, SshPool } from '../ssh/ssh-pool.service';

/** The SSH pool per server, read from the pool at scrape time. */
@Injectable()
export class SshPoolMetrics {
  constructor(registry: Registry, pool: SshPool) {
    const gaugeOf = (name: string, help: string, read: (state: PoolState) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['server_id'],
        registers: [registry],
        collect() {
          // Servers the pool no longer holds disappear instead of keeping their last value.
          this.reset();
          for (const [serverId, state] of pool.states()) this.set({ server_id: String(serverId) }, read(state));
        },
      });
    gaugeOf('infinistudio_ssh_connections', 'SSH connections the pool holds to a server, retired ones included', (state) => state.connections);
    gaugeOf(
      'infinistudio_ssh_open_channels',
      'SSH channels open or being opened on a server, over all its connections',
      (state) => state.open_channels,
    );
  }
}
