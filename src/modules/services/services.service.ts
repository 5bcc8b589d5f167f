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
import { definedOnly } from '../../common/objects';
import { servicesConfig, ServicesConfig } from '../../config/configuration';
import { AgentClient, AgentError, AgentServiceStatus } from './agent.client';
import { CreateServiceDto, DeployResultEntry, UpdateServiceDto } from './dto/service.dto';
import { DeployResult, Service, ServiceOperation } from './service.entity';
import { ServiceStatusGateway } from './service-status.gateway';
import { ServiceHost, ServiceRow, ServicesRepository } from './services.repository';
import { AuditService } from '../audit/audit.service';

type HostState = 'running' | 'stopped' | 'unreachable';

/** The rule of the contract: all running → deployed; an agent unreachable (or no servers) → offline; else online. */
export function aggregateStatus(states: HostState[]): string {
  if (states.length === 0 || states.includes('unreachable')) return 'offline';
  return states.every((state) => state === 'running') ? 'deployed' : 'online';
}

const OPERATION_NAMES: Record<ServiceOperation, string> = { deploy: 'Deploy', restart: 'Restart', stop: 'Stop' };

const agentOf = (host: ServiceHost) => ({ host: host.host_ip, port: host.agent_port });

@Injectable()
export class ServicesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ServicesService.name);
  /** Deploy, restart or stop in flight, per service: at most one; a second is refused with 409. */
  private readonly operations = new Map<number, Promise<void>>();
  private readonly stopping = new AbortController();
  private refreshing?: Promise<void>;
  private recovery?: Promise<void>;
  private syncTimer?: NodeJS.Timeout;

  constructor(
    private readonly services: ServicesRepository,
    private readonly agents: AgentClient,
    private readonly events: ServiceStatusGateway,
    private readonly audit: AuditService,
    @Inject(servicesConfig.KEY) private readonly config: ServicesConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.recovery = this.recoverInterruptedOperations().catch((error: unknown) =>
      this.logger.error(`Recovering services left deploying failed: ${String(error)}`),
    );
    if (this.config.syncIntervalMs > 0) {
      this.syncTimer = setInterval(() => void this.refreshAll(), this.config.syncIntervalMs);
      this.syncTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.syncTimer);
    this.stopping.abort();
    await Promise.allSettled([...this.operations.values(), this.refreshing, this.recovery]);
  }

  /** The stored list at once; a status refresh starts in the background (never more than one at a time). */
  async list(): Promise<ServiceRow[]> {
    const rows = await this.services.list();
    void this.refreshAll();
    return rows;
  }

  /** Refreshes every service's status from the agents now, then returns the list. */
  async refreshAndList(): Promise<ServiceRow[]> {
    // A refresh already running read the services before this request: wait for it, then take a fresh one.
    await this.refreshing;
    await this.refreshAll();
    return this.services.list();
  }

  async get(id: number): Promise<ServiceRow> {
    const service = await this.services.findRow(id);
    if (!service) throw new NotFoundException(`Service ${id} not found`);
    return service;
  }

  async create(dto: CreateServiceDto): Promise<Service> {
    await this.checkReferences(dto);
    const service = await this.services.create({
      name: dto.name,
      model_id: dto.model_id,
      server_ids: dto.server_ids,
      deploy_command: dto.deploy_command || null,
    });
    await this.audit.record({
      action: 'service.create',
      target: `service:${service.id}`,
      detail: { name: service.name, server_ids: service.server_ids, deploy_command: service.deploy_command },
    });
    if (service.deploy_command && service.server_ids.length > 0) await this.startOperation(service, 'deploy');
    return service;
  }

  async update(id: number, dto: UpdateServiceDto): Promise<void> {
    const service = await this.requireService(id);
    await this.checkReferences(dto);
    const fields = definedOnly({ name: dto.name, model_id: dto.model_id, server_ids: dto.server_ids, deploy_command: dto.deploy_command });
    await this.services.update(id, fields);
    const changed = (Object.keys(fields) as (keyof typeof fields)[]).filter(
      (field) => JSON.stringify(fields[field]) !== JSON.stringify(service[field]),
    );
    // The next deploy or restart sends the new command: who set it is on record.
    await this.audit.record({
      action: 'service.update',
      target: `service:${id}`,
      detail: {
        changed,
        deploy_command: fields.deploy_command === undefined ? service.deploy_command : fields.deploy_command,
        ...(changed.includes('deploy_command') && { previous_deploy_command: service.deploy_command }),
        server_ids: fields.server_ids ?? service.server_ids,
      },
    });
  }

  async delete(id: number): Promise<void> {
    const service = await this.requireService(id);
    if (this.operations.has(id)) throw new ConflictException(`Service ${id} has a deploy, restart or stop in progress`);
    await this.services.delete(id);
    await this.audit.record({ action: 'service.delete', target: `service:${id}`, detail: { name: service.name } });
  }

  async restart(id: number): Promise<void> {
    await this.startOperation(await this.requireOperable(id), 'restart');
  }

  async stop(id: number): Promise<void> {
    await this.startOperation(await this.requireOperable(id), 'stop');
  }

  async deployLog(id: number): Promise<DeployResultEntry[]> {
    const service = await this.requireService(id);
    return service.deploy_result ?? [];
  }

  /** Resolves when the service's operation in flight (if any) has finished; for tests and shutdown. */
  async settled(id: number): Promise<void> {
    await this.operations.get(id);
  }

  /** The servers of a service, in its order, with the ports of their agent and model server. */
  async hostsOf(id: number): Promise<ServiceHost[]> {
    const hosts = await this.services.serviceHosts(id);
    if (!hosts) throw new NotFoundException(`Service ${id} not found`);
    return hosts;
  }

  private refreshAll(): Promise<void> {
    this.refreshing ??= this.syncAllStatuses()
      .catch((error: unknown) => this.logger.error(`Service status refresh failed: ${String(error)}`))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** One `/services` call per server answers for every service on it. */
  private async syncAllStatuses(): Promise<void> {
    const services = await this.services.findAll();
    const hosts = await this.services.hosts([...new Set(services.flatMap((service) => service.server_ids))]);
    const answers = new Map<number, Record<string, AgentServiceStatus> | null>();
    await Promise.all(
      hosts.map(async (host) => answers.set(host.id, await this.agents.services(agentOf(host)).catch(() => null))),
    );
    for (const service of services) {
      if (this.operations.has(service.id)) continue;
      const states = service.server_ids.map((serverId): HostState => {
        const onHost = answers.get(serverId);
        if (!onHost) return 'unreachable';
        return onHost[String(service.id)]?.status === 'running' ? 'running' : 'stopped';
      });
      await this.publishSynced(service.id, aggregateStatus(states));
    }
  }

  /** Services a stopped backend left `deploying`: their results say so, their status is what the agents answer now. */
  private async recoverInterruptedOperations(): Promise<void> {
    for (const service of await this.services.findByStatus('deploying')) {
      await this.services.setResult(service.id, await this.interruptedResults(service));
      const status = await this.queryStatus(service);
      await this.services.setStatus(service.id, status);
      this.events.publish(service.id, status);
      this.logger.warn(`Service ${service.id} was left deploying by a restart; the agents say ${status}`);
    }
  }

  /** One entry per server: whether the agent did what it was asked before the backend stopped is unknown. */
  private async interruptedResults(service: Service): Promise<DeployResult[]> {
    const operation = service.deploy_operation;
    // Rows from before deploy_operation was recorded do not say which operation it was.
    const why = `${operation ? OPERATION_NAMES[operation] : 'Operation'} interrupted by a restart of the backend`;
    const hosts = await this.services.hosts(service.server_ids);
    return service.server_ids.map((serverId) => {
      const host = hosts.find((candidate) => candidate.id === serverId);
      const entry = { server_id: serverId, server_name: host?.name ?? null, server_ip: host?.host_ip ?? null, success: false };
      return operation === 'stop' ? { ...entry, message: why } : { ...entry, output: '', error: why };
    });
  }

  private async startOperation(service: Service, operation: ServiceOperation): Promise<void> {
    if (this.operations.has(service.id)) {
      throw new ConflictException(`Service ${service.id} already has a deploy, restart or stop in progress`);
    }
    // Reserved before the first await, so that two requests cannot both start.
    this.operations.set(service.id, Promise.resolve());
    try {
      await this.services.startOperation(service.id, operation);
    } catch (error) {
      this.operations.delete(service.id);
      throw error;
    }
    this.events.publish(service.id, 'deploying');
    // What the agents are told to run (a stop sends no command).
    await this.audit.record({
      action: `service.${operation}`,
      target: `service:${service.id}`,
      detail: { name: service.name, server_ids: service.server_ids, ...(operation !== 'stop' && { command: service.deploy_command }) },
    });
    const running = this.perform(service, operation)
      .catch((error: unknown) => this.logger.error(`${operation} of service ${service.id} failed: ${String(error)}`))
      .finally(() => this.operations.delete(service.id));
    this.operations.set(service.id, running);
  }

  /** Calls every server's agent in parallel, stores the per-server results, then sets the status the agents report. */
  private async perform(service: Service, operation: ServiceOperation): Promise<void> {
    const hosts = await this.services.hosts(service.server_ids);
    const results = await Promise.all(hosts.map((host) => this.performOn(host, service, operation)));
    for (const missing of service.server_ids.filter((id) => !hosts.some((host) => host.id === id))) {
      results.push({ server_id: missing, server_name: null, server_ip: null, success: false, error: `Server ${missing} no longer exists` });
    }
    await this.services.setResult(service.id, results);
    const status = await this.queryStatus(service);
    await this.services.setStatus(service.id, status);
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

  private async queryStatus(service: Service): Promise<string> {
    const hosts = await this.services.hosts(service.server_ids);
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

  private async publishSynced(id: number, status: string): Promise<void> {
    if (await this.services.setSyncedStatus(id, status)) this.events.publish(id, status);
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

  private async checkReferences(dto: UpdateServiceDto): Promise<void> {
    if (dto.model_id !== undefined && !(await this.services.modelExists(dto.model_id))) {
      throw new BadRequestException(`model_id ${dto.model_id} does not exist`);
    }
    if (dto.server_ids?.length) {
      const found = new Set((await this.services.hosts(dto.server_ids)).map((host) => host.id));
      const missing = dto.server_ids.filter((id) => !found.has(id));
      if (missing.length > 0) throw new BadRequestException(`server_ids name servers that do not exist: ${missing.join(', ')}`);
    }
  }
}
