import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { AcceleratorCard } from '../inventory/entities/accelerator-card.entity';
import { Brand } from '../inventory/entities/brand.entity';
import { Service } from '../services/service.entity';
import { Task } from '../tasks/task.entity';
import { Server } from './server.entity';
import { SINGLE_ROW } from '../../database/save-options';

export interface ServerRow extends Omit<Server, 'password' | 'private_key' | 'passphrase' | 'brand' | 'accelerator'> {
  brand_name: string | null;
  model_name: string | null;
}

/** A server with its (encrypted) secrets, for opening SSH connections. */
export type ServerWithSecrets = Server;

export type ServerFields = Partial<
  Pick<
    Server,
    | 'name'
    | 'host_ip'
    | 'port'
    | 'username'
    | 'auth_type'
    | 'password'
    | 'private_key'
    | 'passphrase'
    | 'brand_id'
    | 'model_id'
    | 'agent_port'
    | 'chat_port'
    | 'host_key_fingerprint'
  >
>;

const SECRET_COLUMNS = ['password', 'private_key', 'passphrase'] as const;

@Injectable()
export class ServersRepository {
  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    @InjectRepository(Service) private readonly services: Repository<Service>,
    @InjectRepository(Task) private readonly tasks: Repository<Task>,
    @InjectRepository(Brand) private readonly brands: Repository<Brand>,
    @InjectRepository(AcceleratorCard) private readonly cards: Repository<AcceleratorCard>,
    private readonly cache: ReadCache,
  ) {}

  /** Newest first, with the brand's and the accelerator card's names; secrets are not selected. */
  list(): Promise<ServerRow[]> {
    return this.cache.get('servers:list', ['servers', 'brands', 'accelerator_cards'], async () => {
      const rows = await this.withNames().orderBy('server.created_at', 'DESC').addOrderBy('server.id', 'DESC').getRawAndEntities();
      return rows.entities.map((server, index) => toRow(server, rows.raw[index]));
    });
  }

  async findRow(id: number): Promise<ServerRow | null> {
    const rows = await this.withNames().where('server.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0]) : null;
  }

  findById(id: number): Promise<Server | null> {
    return this.servers.findOneBy({ id });
  }

  findWithSecrets(id: number): Promise<ServerWithSecrets | null> {
    return this.secretsQuery().where('server.id = :id', { id }).getOne();
  }

  findAllWithSecrets(): Promise<ServerWithSecrets[]> {
    return this.secretsQuery().orderBy('server.id', 'ASC').getMany();
  }

  async create(fields: ServerFields): Promise<Server> {
    const server = await this.servers.save(this.servers.create(fields), SINGLE_ROW);
    this.cache.invalidate('servers');
    return server;
  }

  async update(id: number, fields: ServerFields): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.servers.update({ id }, fields);
    this.cache.invalidate('servers');
  }

  async delete(id: number): Promise<void> {
    await this.servers.delete({ id });
    this.cache.invalidate('servers');
  }

  /** Stores the outcome of reachability checks: one statement per status. */
  async recordStatuses(results: { id: number; status: string }[], checkedAt: Date): Promise<void> {
    for (const status of new Set(results.map((result) => result.status))) {
      const ids = results.filter((result) => result.status === status).map((result) => result.id);
      await this.servers.update({ id: In(ids) }, { status, last_check: checkedAt });
    }
    this.cache.invalidate('servers');
  }

  async brandExists(id: number): Promise<boolean> {
    return this.brands.existsBy({ id });
  }

  async acceleratorExists(id: number): Promise<boolean> {
    return this.cards.existsBy({ id });
  }

  /** Services whose `server_ids` include the server. */
  async servicesUsing(id: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    const services = await this.services.find({ select: { id: true, name: true, server_ids: true }, order: { id: 'ASC' } });
    return services.filter((service) => (service.server_ids ?? []).includes(id)).map(({ id: serviceId, name }) => ({ id: serviceId, name }));
  }

  tasksUsing(id: number): Promise<Pick<Task, 'id' | 'name'>[]> {
    return this.tasks.find({ select: { id: true, name: true }, where: { server_id: id }, order: { id: 'ASC' } });
  }

  private withNames() {
    return this.servers
      .createQueryBuilder('server')
      .leftJoin('server.brand', 'brand')
      .leftJoin('server.accelerator', 'accelerator')
      .addSelect('brand.name', 'brand_name')
      .addSelect('accelerator.name', 'model_name');
  }

  private secretsQuery() {
    return this.servers.createQueryBuilder('server').addSelect(SECRET_COLUMNS.map((column) => `server.${column}`));
  }
}

function toRow(server: Server, raw: { brand_name?: string | null; model_name?: string | null }): ServerRow {
  // The relations are only there for the joins; clients get the names.
  const { brand: _brand, accelerator: _accelerator, ...columns } = server;
  return { ...columns, brand_name: raw.brand_name ?? null, model_name: raw.model_name ?? null };
}
