import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Not, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { ServerAddress } from '../servers/servers.repository';
import { DeployResult, Service } from './service.entity';
import { SINGLE_ROW } from '../../database/save-options';

/** A service as lists show it: with its model's name, and `deploy_result` as the stored JSON text (the old API's shape). */
export interface ServiceRow extends Omit<Service, 'model' | 'deploy_result'> {
  model_name: string | null;
  deploy_result: string | null;
}

export type ServiceFields = Partial<Pick<Service, 'name' | 'model_id' | 'server_ids' | 'deploy_command'>>;

/** What the services module needs to know of a server: where its agent and model server listen. */
export type ServiceHost = ServerAddress;

@Injectable()
export class ServicesRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Service) private readonly services: Repository<Service>,
    private readonly cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'services');
  }

  /** Newest first, with the model's name. */
  list(): Promise<ServiceRow[]> {
    return this.cache.get('services:list', ['services', 'models'], async () => {
      const rows = await this.withModelName().orderBy('service.created_at', 'DESC').addOrderBy('service.id', 'DESC').getRawAndEntities();
      return rows.entities.map((service, index) => toRow(service, rows.raw[index] as JoinedNames));
    });
  }

  async findRow(id: number): Promise<ServiceRow | null> {
    const rows = await this.withModelName().where('service.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0] as JoinedNames) : null;
  }

  findById(id: number): Promise<Service | null> {
    return this.services.findOneBy({ id });
  }

  findAll(): Promise<Service[]> {
    return this.services.find({ order: { id: 'ASC' } });
  }

  findByStatus(status: string): Promise<Service[]> {
    return this.services.find({ where: { deploy_status: status }, order: { id: 'ASC' } });
  }

  /** The server ids of a service, in its order; null for an unknown service. Served from the read cache (hot for chat). */
  serverIdsOf(id: number): Promise<number[] | null> {
    return this.cache.get(`services:${id}:server_ids`, ['services'], async () => {
      const service = await this.services.findOne({ select: { id: true, server_ids: true }, where: { id } });
      return service ? service.server_ids : null;
    });
  }

  /** Services whose `server_ids` include the server. */
  async usingServer(serverId: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    const services = await this.services.find({ select: { id: true, name: true, server_ids: true }, order: { id: 'ASC' } });
    return services.filter((service) => (service.server_ids ?? []).includes(serverId)).map(({ id, name }) => ({ id, name }));
  }

  /** Services that deploy the model. */
  usingModel(modelId: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    return this.services.find({ select: { id: true, name: true }, where: { model_id: modelId }, order: { id: 'ASC' } });
  }

  create(fields: Required<ServiceFields>): Promise<Service> {
    return this.writes.run(() => this.services.save(this.services.create({ ...fields, deploy_status: 'offline' }), SINGLE_ROW));
  }

  async update(id: number, fields: ServiceFields): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.services.update({ id }, fields));
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

  /** A read-only view: the models table is joined for the name lists show, never written or checked here. */
  private withModelName() {
    return this.services.createQueryBuilder('service').leftJoin('service.model', 'model').addSelect('model.name', 'model_name');
  }
}

/** The joined column of a list row. */
interface JoinedNames {
  model_name?: string | null;
}

function toRow(service: Service, raw: JoinedNames): ServiceRow {
  const { model: _model, deploy_result, ...columns } = service;
  return { ...columns, deploy_result: deploy_result === null ? null : JSON.stringify(deploy_result), model_name: raw.model_name ?? null };
}
