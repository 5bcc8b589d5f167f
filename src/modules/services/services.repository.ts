import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Not, Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Model } from '../inventory/entities/model.entity';
import { Server } from '../servers/server.entity';
import { DeployResult, Service } from './service.entity';
import { SINGLE_ROW } from '../../database/save-options';

/** A service as lists show it: with its model's name, and `deploy_result` as the stored JSON text (the old API's shape). */
export interface ServiceRow extends Omit<Service, 'model' | 'deploy_result'> {
  model_name: string | null;
  deploy_result: string | null;
}

export type ServiceFields = Partial<Pick<Service, 'name' | 'model_id' | 'server_ids' | 'deploy_command'>>;

/** What the services module needs to know of a server: where its agent and model server listen. */
export type ServiceHost = Pick<Server, 'id' | 'name' | 'host_ip' | 'agent_port' | 'chat_port'>;

@Injectable()
export class ServicesRepository {
  constructor(
    @InjectRepository(Service) private readonly services: Repository<Service>,
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    @InjectRepository(Model) private readonly models: Repository<Model>,
    private readonly cache: ReadCache,
  ) {}

  /** Newest first, with the model's name. */
  list(): Promise<ServiceRow[]> {
    return this.cache.get('services:list', ['services', 'models'], async () => {
      const rows = await this.withModelName().orderBy('service.created_at', 'DESC').addOrderBy('service.id', 'DESC').getRawAndEntities();
      return rows.entities.map((service, index) => toRow(service, rows.raw[index]));
    });
  }

  async findRow(id: number): Promise<ServiceRow | null> {
    const rows = await this.withModelName().where('service.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0]) : null;
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

  modelExists(id: number): Promise<boolean> {
    return this.models.existsBy({ id });
  }

  /** The servers of a service, in its order; null for an unknown service. Served from the read cache (hot for chat). */
  serviceHosts(id: number): Promise<ServiceHost[] | null> {
    return this.cache.get(`services:${id}:hosts`, ['services', 'servers'], async () => {
      const service = await this.services.findOne({ select: { id: true, server_ids: true }, where: { id } });
      return service ? this.hosts(service.server_ids) : null;
    });
  }

  /** The servers among `ids`, in the order of `ids` (missing ones left out). */
  async hosts(ids: number[]): Promise<ServiceHost[]> {
    if (ids.length === 0) return [];
    const found = await this.servers.find({
      select: { id: true, name: true, host_ip: true, agent_port: true, chat_port: true },
      where: { id: In(ids) },
    });
    const byId = new Map<number, ServiceHost>(found.map((server) => [server.id, server]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async create(fields: Required<ServiceFields>): Promise<Service> {
    const service = await this.services.save(this.services.create({ ...fields, deploy_status: 'offline' }), SINGLE_ROW);
    this.cache.invalidate('services');
    return service;
  }

  async update(id: number, fields: ServiceFields): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.services.update({ id }, fields);
    this.cache.invalidate('services');
  }

  /** Deletes the service; the schema deletes its chat history with it. */
  async delete(id: number): Promise<void> {
    await this.services.delete({ id });
    this.cache.invalidate('services', 'chat_history');
  }

  /** A sync's answer; never overwrites `deploying`, which belongs to the operation in flight. Returns whether it changed. */
  async setSyncedStatus(id: number, deploy_status: string): Promise<boolean> {
    const result = await this.services.update({ id, deploy_status: Not(In(['deploying', deploy_status])) }, { deploy_status });
    const changed = (result.affected ?? 0) > 0;
    if (changed) this.cache.invalidate('services');
    return changed;
  }

  /** An operation's end on a service whose operation left no record (it predates the operation history). */
  async setStatusAndResult(id: number, deploy_status: string, deploy_result: DeployResult[]): Promise<void> {
    await this.services.update({ id }, { deploy_status, deploy_result });
    this.cache.invalidate('services');
  }

  private withModelName() {
    return this.services.createQueryBuilder('service').leftJoin('service.model', 'model').addSelect('model.name', 'model_name');
  }
}

function toRow(service: Service, raw: { model_name?: string | null }): ServiceRow {
  const { model: _model, deploy_result, ...columns } = service;
  return { ...columns, deploy_result: deploy_result === null ? null : JSON.stringify(deploy_result), model_name: raw.model_name ?? null };
}
