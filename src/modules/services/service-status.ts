import { ServiceHost } from './services.repository';

/** What one server's agent says of a service. */
export type HostState = 'running' | 'stopped' | 'unreachable';

/** The rule of the contract: all running → deployed; an agent unreachable (or no servers) → offline; else online. */
export function aggregateStatus(states: HostState[]): string {
  if (states.length === 0 || states.includes('unreachable')) return 'offline';
  return states.every((state) => state === 'running') ? 'deployed' : 'online';
}

export const agentOf = (host: ServiceHost) => ({ host: host.host_ip, port: host.agent_port });
