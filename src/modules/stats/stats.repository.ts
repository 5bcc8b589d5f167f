import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Server } from '../servers/server.entity';
import { Service } from '../services/service.entity';

export interface StatsCounts {
  servers: number;
  onlineServers: number;
  services: number;
}

/** A read-only view: counts over the servers' and services' tables, which it never writes. */
@Injectable()
export class StatsRepository {
  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    @InjectRepository(Service) private readonly services: Repository<Service>,
    private readonly cache: ReadCache,
  ) {}

  counts(): Promise<StatsCounts> {
    return this.cache.get('stats:counts', ['servers', 'services'], () => this.countRows());
  }

  /** All three counts in one round trip per table. */
  private async countRows(): Promise<StatsCounts> {
    const [serverCounts, services] = await Promise.all([
      this.servers
        .createQueryBuilder('server')
        .select('COUNT(*)', 'total')
        .addSelect(`SUM(CASE WHEN server.status = 'online' THEN 1 ELSE 0 END)`, 'online')
        .getRawOne<{ total: string | number; online: string | number | null }>(),
      this.services.count(),
    ]);
    return {
      servers: Number(serverCounts?.total ?? 0),
      onlineServers: Number(serverCounts?.online ?? 0),
      services,
    };
  }
}
