import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, Not, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { SINGLE_ROW } from '../../database/save-options';
import { Transactions } from '../../database/transactions.service';
import { ServerAddress } from '../servers/servers.repository';
import { ServiceServer } from './service-server.entity';
import { DeployResult, Service } from './service.entity';

/** A service as lists show it: with its model's name, and `deploy_result` as the stored JSON text (the old API's shape). */
export interface ServiceRow extends Omit<Service, 'model' | 'deploy_result'> {
  model_name: string | null;
  deploy_result: string | null;
}

export type ServiceFields = Partial<Pick<Service, 'name' | 'model_id' | 'server_ids' | 'aliases' | 'deploy_command'>>;

/** What the services module needs to know of a server: where its agent and model server listen. */
export type ServiceHost = ServerAddress;

@Injectable()
export class ServicesRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Service) private readonly services: Repository<Service>,
    @InjectRepository(ServiceServer) private readonly memberships: Repository<ServiceServer>,
    private readonly transactions: Transactions,
    private readonly cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'services');
  }

  /** Newest first, with the model's name. */
  list(): Promise<ServiceRow[]> {
    return this.cache.get('services:list', ['services', 'models'], async () => {
      const rows = await this.withModelName().orderBy('service.created_at', 'DESC').addOrderBy('service.id', 'DESC').getRawAndEntities();
      const services = await this.withServerIds(rows.entities, 'all');
      return services.map((service, index) => toRow(service, rows.raw[index] as JoinedNames));
    });
  }

  async findRow(id: number): Promise<ServiceRow | null> {
    const rows = await this.withModelName().where('service.id = :id', { id }).getRawAndEntities();
    const [service] = await this.withServerIds(rows.entities);
    return service ? toRow(service, rows.raw[0] as JoinedNames) : null;
  }

  async findById(id: number): Promise<Service | null> {
    const [service] = await this.withServerIds(await this.services.findBy({ id }));
    return service ?? null;
  }

  async findAll(): Promise<Service[]> {
    return this.withServerIds(await this.services.find({ order: { id: 'ASC' } }), 'all');
  }

  async findByStatus(status: string): Promise<Service[]> {
    return this.withServerIds(await this.services.find({ where: { deploy_status: status }, order: { id: 'ASC' } }));
  }

  count(): Promise<number> {
    return this.cache.get('services:count', ['services'], () => this.services.count());
  }

  /** The server ids of a service, in its order; null for an unknown service. Served from the read cache (hot for chat). */
  serverIdsOf(id: number): Promise<number[] | null> {
    return this.cache.get(`services:${id}:server_ids`, ['services'], async () => (await this.findById(id))?.server_ids ?? null);
  }

  /** Services that run on the server. */
  usingServer(serverId: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    return this.memberships
      .createQueryBuilder('membership')
      .innerJoin('membership.service', 'service')
      .select(['service.id AS id', 'service.name AS name'])
      .where('membership.server_id = :serverId', { serverId })
      .orderBy('service.id', 'ASC')
      .getRawMany<Pick<Service, 'id' | 'name'>>();
  }

  /** Services that deploy the model. */
  usingModel(modelId: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    return this.services.find({ select: { id: true, name: true }, where: { model_id: modelId }, order: { id: 'ASC' } });
  }

  create({ server_ids, ...columns }: Required<ServiceFields>): Promise<Service> {
    return this.writes.run(() =>
      this.transactions.run(async (manager) => {
        const service = await manager.save(manager.create(Service, { ...columns, deploy_status: 'offline' }), SINGLE_ROW);
        await insertMemberships(manager, service.id, server_ids);
        return Object.assign(service, { server_ids });
      }),
    );
  }

  async update(id: number, { server_ids, ...columns }: ServiceFields): Promise<void> {
    if (server_ids === undefined && Object.keys(columns).length === 0) return;
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        if (Object.keys(columns).length > 0) await manager.update(Service, { id }, columns);
        if (server_ids === undefined) return;
        await manager.delete(ServiceServer, { service_id: id });
        await insertMemberships(manager, id, server_ids);
      }),
    );
  }

  /** Deletes the service; the schema deletes its chat history with it. */
  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.services.delete({ id }), 'chat_history');
  }

  /** A sync's answer; never overwrites `deploying`, which belongs to the operation in flight. Returns whether it changed. */
  setSyncedStatus(id: number, deploy_status: string): Promise<boolean> {
    return this.writes.runIfChanged(() => this.services.update({ id, deploy_status: Not(In(['deploying', deploy_status])) }, { deploy_status }));
  }

  /** An operation's end on a service whose operation left no record (it predates the operation history). */
  async setStatusAndResult(id: number, deploy_status: string, deploy_result: DeployResult[]): Promise<void> {
    await this.writes.run(() => this.services.update({ id }, { deploy_status, deploy_result }));
  }

  /**
   * Fills in each service's `server_ids` from `service_servers`, in the operator's order. `all`: the services are
   * the whole table, so one query reads every membership instead of listing the ids.
   */
  private async withServerIds(services: Service[], scope: 'all' | 'these' = 'these'): Promise<Service[]> {
    if (services.length === 0) return services;
    const memberships = await this.memberships.find({
      select: { service_id: true, server_id: true },
      where: scope === 'all' ? {} : { service_id: In(services.map((service) => service.id)) },
      order: { service_id: 'ASC', position: 'ASC' },
    });
    const serverIds = new Map<number, number[]>();
    for (const { service_id, server_id } of memberships) serverIds.set(service_id, [...(serverIds.get(service_id) ?? []), server_id]);
    return services.map((service) => Object.assign(service, { server_ids: serverIds.get(service.id) ?? [] }));
  }

  /** A read-only view: the models table is joined for the name lists show, never written or checked here. */
  private withModelName() {
    return this.services.createQueryBuilder('service').leftJoin('service.model', 'model').addSelect('model.name', 'model_name');
  }
}

function insertMemberships(manager: EntityManager, serviceId: number, serverIds: number[]): Promise<unknown> {
  if (serverIds.length === 0) return Promise.resolve();
  return manager.insert(
    ServiceServer,
    serverIds.map((server_id, position) => ({ service_id: serviceId, server_id, position })),
  );
}

/** The joined column of a list row. */
interface JoinedNames {
  model_name?: string | null;
}

function toRow(service: Service, raw: JoinedNames): ServiceRow {
  const { model: _model, deploy_result, ...columns } = service;
  return { ...columns, deploy_result: deploy_result === null ? null : JSON.stringify(deploy_result), model_name: raw.model_name ?? null };
}
