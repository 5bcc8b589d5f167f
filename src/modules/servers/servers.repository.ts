import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { CachedJson, ReadCache } from '../../database/read-cache.service';
import { Server } from './server.entity';
import { SINGLE_ROW } from '../../database/save-options';

export interface ServerRow extends Omit<Server, 'password' | 'private_key' | 'passphrase' | 'brand' | 'accelerator'> {
  brand_name: string | null;
  model_name: string | null;
}

/** A server with its (encrypted) secrets, for opening SSH connections. */
export type ServerWithSecrets = Server;

/** Where a server's agent and model server listen: what the services module needs to know of it. */
export type ServerAddress = Pick<Server, 'id' | 'name' | 'host_ip' | 'agent_port' | 'chat_port'>;

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

export interface ServerCounts {
  total: number;
  online: number;
}

@Injectable()
export class ServersRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    private readonly cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'servers');
  }

  /** `list` serialized, with its ETag: what `GET /api/servers`, which the admin UI polls, sends. */
  listJson(): Promise<CachedJson> {
    return this.cache.getJson('servers:list', ['servers', 'brands', 'accelerator_cards'], () => this.list());
  }

  /** Newest first, with the brand's and the accelerator card's names; secrets are not selected. */
  list(): Promise<ServerRow[]> {
    return this.cache.get('servers:list', ['servers', 'brands', 'accelerator_cards'], async () => {
      const rows = await this.withNames().orderBy('server.created_at', 'DESC').addOrderBy('server.id', 'DESC').getRawAndEntities();
      return rows.entities.map((server, index) => toRow(server, rows.raw[index] as JoinedNames));
    });
  }

  async findRow(id: number): Promise<ServerRow | null> {
    const rows = await this.withNames().where('server.id = :id', { id }).getRawAndEntities();
    return rows.entities[0] ? toRow(rows.entities[0], rows.raw[0] as JoinedNames) : null;
  }

  exists(id: number): Promise<boolean> {
    return this.servers.existsBy({ id });
  }

  /** How many servers there are, and how many the last check found online. */
  counts(): Promise<ServerCounts> {
    return this.cache.get('servers:counts', ['servers'], async () => {
      const counts = await this.servers
        .createQueryBuilder('server')
        .select('COUNT(*)', 'total')
        .addSelect(`SUM(CASE WHEN server.status = 'online' THEN 1 ELSE 0 END)`, 'online')
        .getRawOne<{ total: string | number; online: string | number | null }>();
      return { total: Number(counts?.total ?? 0), online: Number(counts?.online ?? 0) };
    });
  }

  /** The servers among `ids`, in the order of `ids` (missing ones left out). */
  async addresses(ids: number[]): Promise<ServerAddress[]> {
    if (ids.length === 0) return [];
    const found = await this.servers.find({
      select: { id: true, name: true, host_ip: true, agent_port: true, chat_port: true },
      where: { id: In(ids) },
    });
    const byId = new Map<number, ServerAddress>(found.map((server) => [server.id, server]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** `addresses`, served from the read cache (hot for chat). */
  cachedAddresses(ids: number[]): Promise<ServerAddress[]> {
    return this.cache.get(`servers:addresses:${ids.join(',')}`, ['servers'], () => this.addresses(ids));
  }

  findWithSecrets(id: number): Promise<ServerWithSecrets | null> {
    return this.secretsQuery().where('server.id = :id', { id }).getOne();
  }

  /** `findWithSecrets` from the read cache, for connecting (hot for task runs): the secrets stay sealed in it. */
  cachedWithSecrets(id: number): Promise<ServerWithSecrets | null> {
    return this.cache.get(`servers:secrets:${id}`, ['servers'], () => this.findWithSecrets(id));
  }

  findAllWithSecrets(): Promise<ServerWithSecrets[]> {
    return this.secretsQuery().orderBy('server.id', 'ASC').getMany();
  }

  create(fields: ServerFields): Promise<Server> {
    return this.writes.run(() => this.servers.save(this.servers.create(fields), SINGLE_ROW));
  }

  async update(id: number, fields: ServerFields): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.servers.update({ id }, fields));
  }

  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.servers.delete({ id }));
  }

  /** Stores the outcome of reachability checks: one statement per status. */
  async recordStatuses(results: { id: number; status: string }[], checkedAt: Date): Promise<void> {
    await this.writes.run(async () => {
      for (const status of new Set(results.map((result) => result.status))) {
        const ids = results.filter((result) => result.status === status).map((result) => result.id);
        await this.servers.update({ id: In(ids) }, { status, last_check: checkedAt });
      }
    });
  }

  /** A read-only view: inventory's tables are joined for the names lists show, never written or checked here. */
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

/** The joined columns of a list row. */
interface JoinedNames {
  brand_name?: string | null;
  model_name?: string | null;
}

function toRow(server: Server, raw: JoinedNames): ServerRow {
  // The relations are only there for the joins; clients get the names.
  const { brand: _brand, accelerator: _accelerator, ...columns } = server;
  return { ...columns, brand_name: raw.brand_name ?? null, model_name: raw.model_name ?? null };
}
