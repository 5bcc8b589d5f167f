import { Injectable } from '@nestjs/common';
import { StatsResponse } from './stats-response.dto';
import { StatsRepository } from './stats.repository';

@Injectable()
export class StatsService {
  constructor(private readonly stats: StatsRepository) {}

  async overview(): Promise<StatsResponse> {
    const counts = await this.stats.counts();
    return { server_count: counts.servers, service_count: counts.services, online_server_count: counts.onlineServers };
  }
}
