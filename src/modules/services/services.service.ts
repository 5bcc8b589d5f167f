import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { servicesConfig, ServicesConfig } from '../../config/configuration';
import { AgentClient, AgentServiceStatus } from './agent.client';
import { CreateServiceDto, UpdateServiceDto } from './dto/service.dto';
import { Service } from './service.entity';
import { ServiceOperations } from './service-operations.service';
import { ServiceStatusGateway } from './service-status.gateway';
import { agentOf, aggregateStatus, HostState } from './service-status';
import { ServiceHost, ServiceRow, ServicesRepository } from './services.repository';
import { AuditService } from '../audit/audit.service';
import { ModelsService } from '../inventory/models.service';
import { ServersService } from '../servers/servers.service';

/** Services as records (create, edit, delete) and their status, kept in step with what the agents report. */
@Injectable()
export class ServicesService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ServicesService.name);
  private refreshing?: Promise<void>;
  private syncTimer?: NodeJS.Timeout;

  constructor(
    private readonly services: ServicesRepository,
    private readonly servers: ServersService,
    private readonly models: ModelsService,
    private readonly agents: AgentClient,
    private readonly operations: ServiceOperations,
    private readonly events: ServiceStatusGateway,
    private readonly audit: AuditService,
    @Inject(servicesConfig.KEY) private readonly config: ServicesConfig,
  ) {}

  /** A server or a model that a service names cannot be deleted. */
  onModuleInit(): void {
    this.servers.addReferenceCheck('service', (serverId) => this.services.usingServer(serverId));
    this.models.addReferenceCheck('service', (modelId) => this.services.usingModel(modelId));
  }

  onApplicationBootstrap(): void {
    if (this.config.syncIntervalMs > 0) {
      this.syncTimer = setInterval(() => void this.refreshAll(), this.config.syncIntervalMs);
      this.syncTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.syncTimer);
    await this.refreshing;
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

  /** Every deployed service, from the read cache. */
  async deployed(): Promise<ServiceRow[]> {
    return (await this.services.list()).filter((service) => service.deploy_status === 'deployed');
  }

  count(): Promise<number> {
    return this.services.count();
  }

  async create(dto: CreateServiceDto): Promise<Service> {
    await this.checkReferences(dto);
    const service = await this.services.create({
      name: dto.name,
      model_id: dto.model_id,
      server_ids: dto.server_ids,
      aliases: dto.aliases ?? [],
      deploy_command: dto.deploy_command || null,
    });
    await this.audit.record({
      action: 'service.create',
      target: `service:${service.id}`,
      detail: { name: service.name, server_ids: service.server_ids, aliases: service.aliases, deploy_command: service.deploy_command },
    });
    if (service.deploy_command && service.server_ids.length > 0) await this.operations.start(service, 'deploy');
    return service;
  }

  async update(id: number, dto: UpdateServiceDto): Promise<void> {
    const service = await this.requireService(id);
    await this.checkReferences(dto);
    const fields = definedOnly({
      name: dto.name,
      model_id: dto.model_id,
      server_ids: dto.server_ids,
      aliases: dto.aliases,
      deploy_command: dto.deploy_command,
    });
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
    if (this.operations.isBusy(id)) throw new ConflictException(`Service ${id} has a deploy, restart or stop in progress`);
    await this.services.delete(id);
    await this.audit.record({ action: 'service.delete', target: `service:${id}`, detail: { name: service.name } });
  }

  /** The servers of a service, in its order, with the ports of their agent and model server. */
  async hostsOf(id: number): Promise<ServiceHost[]> {
    const serverIds = await this.services.serverIdsOf(id);
    if (!serverIds) throw new NotFoundException(`Service ${id} not found`);
    return this.servers.cachedAddresses(serverIds);
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
    const hosts = await this.servers.addresses([...new Set(services.flatMap((service) => service.server_ids))]);
    const answers = new Map<number, Record<string, AgentServiceStatus> | null>();
    await Promise.all(hosts.map(async (host) => answers.set(host.id, await this.agents.services(agentOf(host)).catch(() => null))));
    for (const service of services) {
      if (this.operations.isBusy(service.id)) continue;
      const states = service.server_ids.map((serverId): HostState => {
        const onHost = answers.get(serverId);
        if (!onHost) return 'unreachable';
        return onHost[String(service.id)]?.status === 'running' ? 'running' : 'stopped';
      });
      await this.publishSynced(service.id, aggregateStatus(states));
    }
  }

  private async publishSynced(id: number, status: string): Promise<void> {
    if (await this.services.setSyncedStatus(id, status)) this.events.publish(id, status);
  }

  private async requireService(id: number): Promise<Service> {
    const service = await this.services.findById(id);
    if (!service) throw new NotFoundException(`Service ${id} not found`);
    return service;
  }

  private async checkReferences(dto: UpdateServiceDto): Promise<void> {
    if (dto.model_id !== undefined && !(await this.models.exists(dto.model_id))) {
      throw new BadRequestException(`model_id ${dto.model_id} does not exist`);
    }
    if (dto.server_ids?.length) {
      const found = new Set((await this.servers.addresses(dto.server_ids)).map((host) => host.id));
      const missing = dto.server_ids.filter((id) => !found.has(id));
      if (missing.length > 0) throw new BadRequestException(`server_ids name servers that do not exist: ${missing.join(', ')}`);
    }
  }
}
