import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DEFAULT_HISTORY_LIMIT } from '../../common/dto/history-query.dto';
import { RequestContext } from '../../common/request-context';
import { servicesConfig, ServicesConfig } from '../../config/configuration';
import { AuditService } from '../audit/audit.service';
import { ServersService } from '../servers/servers.service';
import { AgentClient, AgentError } from './agent.client';
import { DeployResultEntry } from './dto/service.dto';
import { OperationOutcome, ServiceOperationRecord } from './service-operation.entity';
import { ServiceOperationsRepository } from './service-operations.repository';
import { DeployResult, Service, ServiceOperation } from './service.entity';
import { ServiceStatusGateway } from './service-status.gateway';
import { agentOf, aggregateStatus, HostState } from './service-status';
import { ServiceHost, ServicesRepository } from './services.repository';

const OPERATION_NAMES: Record<ServiceOperation, string> = { deploy: 'Deploy', restart: 'Restart', stop: 'Stop' };

/**
 * Deploys, restarts and stops services through their servers' agents, in the background, at most one per service at
 * a time; each is kept in the service's operation history with who started it, what was sent and how it ended.
 */
@Injectable()
export class ServiceOperations implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ServiceOperations.name);
  /** The operation in flight, per service. */
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly stopping = new AbortController();
  private recovery?: Promise<void>;

  constructor(
    private readonly services: ServicesRepository,
    private readonly servers: ServersService,
    private readonly records: ServiceOperationsRepository,
    private readonly agents: AgentClient,
    private readonly events: ServiceStatusGateway,
    private readonly audit: AuditService,
    @Inject(servicesConfig.KEY) private readonly config: ServicesConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.recovery = this.recoverInterrupted().catch((error: unknown) =>
      this.logger.error(`Recovering operations cut short by a restart failed: ${String(error)}`),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight.values(), this.recovery]);
  }

  isBusy(serviceId: number): boolean {
    return this.inFlight.has(serviceId);
  }

  /** Resolves when the service's operation in flight (if any) has finished; for tests and shutdown. */
  async settled(serviceId: number): Promise<void> {
    await this.inFlight.get(serviceId);
  }

  async restart(id: number): Promise<void> {
    await this.start(await this.requireOperable(id), 'restart');
  }

  async stop(id: number): Promise<void> {
    await this.start(await this.requireOperable(id), 'stop');
  }

  /** Per-server results of the latest deploy or restart (a stop leaves them as they were). */
  async deployLog(id: number): Promise<DeployResultEntry[]> {
    return (await this.requireService(id)).deploy_result ?? [];
  }

  async history(id: number, limit = DEFAULT_HISTORY_LIMIT): Promise<ServiceOperationRecord[]> {
    await this.requireService(id);
    return this.records.list(id, limit);
  }

  /** Starts the operation in the background; a second one on the same service while it runs is refused with 409. */
  async start(service: Service, operation: ServiceOperation): Promise<void> {
    if (this.inFlight.has(service.id)) {
      throw new ConflictException(`Service ${service.id} already has a deploy, restart or stop in progress`);
    }
    // Reserved before the first await, so that two requests cannot both start.
    this.inFlight.set(service.id, Promise.resolve());
    const command = operation === 'stop' ? null : service.deploy_command;
    let record: ServiceOperationRecord;
    try {
      record = await this.records.start({ service_id: service.id, operation, started_by: RequestContext.callerName(), command });
    } catch (error) {
      this.inFlight.delete(service.id);
      throw error;
    }
    if (operation !== 'stop') this.events.publish(service.id, 'deploying');
    await this.audit.record({
      action: `service.${operation}`,
      target: `service:${service.id}`,
      detail: { name: service.name, server_ids: service.server_ids, operation_id: record.id, ...(command !== null && { command }) },
    });
    const running = this.perform(service, record)
      .catch((error: unknown) => this.logger.error(`${operation} of service ${service.id} failed: ${String(error)}`))
      .finally(() => this.inFlight.delete(service.id));
    this.inFlight.set(service.id, running);
  }

  /** Calls every server's agent in parallel, then stores the per-server results and the status the agents report. */
  private async perform(service: Service, record: ServiceOperationRecord): Promise<void> {
    const hosts = await this.servers.addresses(service.server_ids);
    const results = await Promise.all(hosts.map((host) => this.performOn(host, service, record.operation)));
    for (const missing of service.server_ids.filter((id) => !hosts.some((host) => host.id === id))) {
      results.push({ server_id: missing, server_name: null, server_ip: null, success: false, error: `Server ${missing} no longer exists` });
    }
    const status = await this.queryStatus(service);
    await this.records.finish(record, { outcome: outcomeOf(results), results, status_after: status }, this.config.operationsKept);
    this.events.publish(service.id, status);
  }

  private async performOn(host: ServiceHost, service: Service, operation: ServiceOperation): Promise<DeployResultEntry> {
    const entry = { server_id: host.id, server_name: host.name, server_ip: host.host_ip };
    const signal = this.stopping.signal;
    try {
      if (operation === 'stop') {
        const answer = await this.agents.stop(agentOf(host), service.id, signal);
        return { ...entry, success: true, message: answer.message ?? answer.status };
      }
      const command = service.deploy_command ?? '';
      const answer =
        operation === 'deploy'
          ? await this.agents.deploy(agentOf(host), service.id, command, signal)
          : await this.agents.restart(agentOf(host), service.id, command, signal);
      return { ...entry, success: true, output: answer.message ?? `${answer.status} (pid ${answer.pid})`, error: '' };
    } catch (error) {
      // Stopping what the agent never started leaves the server as wanted.
      if (operation === 'stop' && error instanceof AgentError && error.httpStatus === 404) {
        return { ...entry, success: true, message: 'Not running on this server' };
      }
      const why = error instanceof AgentError ? error.message : String(error);
      this.logger.warn(`${operation} of service ${service.id} on ${host.name} (${host.host_ip}) failed: ${why}`);
      return operation === 'stop' ? { ...entry, success: false, message: why } : { ...entry, success: false, output: '', error: why };
    }
  }

  /**
   * Operations a stopped backend left unfinished end as `interrupted`, and services it left `deploying` (also from
   * before the history existed) get the status the agents answer now.
   */
  private async recoverInterrupted(): Promise<void> {
    const unfinished = await this.records.findUnfinished();
    const leftDeploying = await this.services.findByStatus('deploying');
    const serviceIds = [...new Set([...unfinished.map((record) => record.service_id), ...leftDeploying.map((service) => service.id)])];
    for (const id of serviceIds) {
      const service = await this.services.findById(id);
      if (!service) continue;
      const record = unfinished.find((candidate) => candidate.service_id === id);
      const operation = record?.operation ?? service.deploy_operation;
      const results = await this.interruptedResults(service, operation);
      const status = await this.queryStatus(service);
      if (record) {
        await this.records.finish(record, { outcome: 'interrupted', results, status_after: status }, this.config.operationsKept);
      } else {
        await this.services.setStatusAndResult(id, status, results);
      }
      this.events.publish(id, status);
      this.logger.warn(`Service ${id}: ${operation ?? 'an operation'} was cut short by a restart; the agents say ${status}`);
    }
  }

  /** One entry per server: whether the agent did what it was asked before the backend stopped is unknown. */
  private async interruptedResults(service: Service, operation: ServiceOperation | null): Promise<DeployResult[]> {
    // Rows from before deploy_operation was recorded do not say which operation it was.
    const why = `${operation ? OPERATION_NAMES[operation] : 'Operation'} interrupted by a restart of the backend`;
    const hosts = await this.servers.addresses(service.server_ids);
    return service.server_ids.map((serverId) => {
      const host = hosts.find((candidate) => candidate.id === serverId);
      const entry = { server_id: serverId, server_name: host?.name ?? null, server_ip: host?.host_ip ?? null, success: false };
      return operation === 'stop' ? { ...entry, message: why } : { ...entry, output: '', error: why };
    });
  }

  private async queryStatus(service: Service): Promise<string> {
    const hosts = await this.servers.addresses(service.server_ids);
    if (hosts.length < service.server_ids.length) return 'offline';
    const states = await Promise.all(
      hosts.map((host) =>
        this.agents.status(agentOf(host), service.id).then(
          (answer): HostState => (answer.status === 'running' ? 'running' : 'stopped'),
          (): HostState => 'unreachable',
        ),
      ),
    );
    return aggregateStatus(states);
  }

  private async requireService(id: number): Promise<Service> {
    const service = await this.services.findById(id);
    if (!service) throw new NotFoundException(`Service ${id} not found`);
    return service;
  }

  private async requireOperable(id: number): Promise<Service> {
    const service = await this.requireService(id);
    if (service.server_ids.length === 0) throw new BadRequestException('No servers associated with this service');
    if (!service.deploy_command) throw new BadRequestException('No deploy command found');
    return service;
  }
}

function outcomeOf(results: DeployResult[]): Exclude<OperationOutcome, 'running' | 'interrupted'> {
  const succeeded = results.filter((result) => result.success).length;
  if (succeeded === results.length) return 'succeeded';
  return succeeded === 0 ? 'failed' : 'partial';
}
