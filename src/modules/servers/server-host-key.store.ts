import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { HostKeyStore } from '../../ssh/host-key.store';
import { Server } from './server.entity';

/** SshPool's host keys, pinned in the server's `host_key_fingerprint` column. */
@Injectable()
export class ServerHostKeyStore implements HostKeyStore {
  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    private readonly cache: ReadCache,
  ) {}

  async pinIfUnset(serverId: number, fingerprint: string): Promise<void> {
    await this.servers.update({ id: serverId, host_key_fingerprint: IsNull() }, { host_key_fingerprint: fingerprint });
    this.cache.invalidate('servers');
  }
}
