import { Injectable } from '@nestjs/common';
import { CachedJson, ReadCache } from '../../database/read-cache.service';
import { ServersService } from '../servers/servers.service';
import { ServicesService } from '../services/services.service';
import { StatsResponse } from './stats-response.dto';

/** The overview counts, asked of the features that own the tables. */
@Injectable()
export class StatsService {
  constructor(
    private readonly servers: ServersService,
    private readonly services: ServicesService,
    private readonly cache: ReadCache,
  ) {}

  /** The overview as sent, with its ETag, until a server or a service changes: the admin UI polls it. */
  overviewJson(): Promise<CachedJson> {
    return this.cache.getJson('stats:overview', ['servers', 'services'], () => this.overview());
  }

  private async overview(): Promise<StatsResponse> {
    const [servers, serviceCount] = await Promise.all([this.servers.counts(), this.services.count()]);
    return { server_count: servers.total, service_count: serviceCount, online_server_count: servers.online };
  }
}
