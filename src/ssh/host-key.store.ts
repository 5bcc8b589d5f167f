import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { ReadCache } from '../database/read-cache.service';
import { Server } from '../modules/servers/server.entity';

/** Where pinned host keys live: the server's `host_key_fingerprint` column. */
@Injectable()
export class HostKeyStore {
  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    private readonly cache: ReadCache,
  ) {}

  /** Pins the first key seen; a key pinned meanwhile by another connection is left alone. */
  async pinIfUnset(serverId: number, fingerprint: string): Promise<void> {
    await this.servers.update({ id: serverId, host_key_fingerprint: IsNull() }, { host_key_fingerprint: fingerprint });
    this.cache.invalidate('servers');
  }
}
