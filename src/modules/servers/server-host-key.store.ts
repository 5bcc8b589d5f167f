import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { HostKeyStore } from '../../ssh/host-key.store';
import { Server } from './server.entity';

/** SshPool's host keys, pinned in the server's `host_key_fingerprint` column. */
@Injectable()
export class ServerHostKeyStore implements HostKeyStore {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Server) private readonly servers: Repository<Server>,
    cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'servers');
  }

  async pinIfUnset(serverId: number, fingerprint: string): Promise<void> {
    // Only the first key seen is pinned: a later connection that found one already pinned changes nothing.
    await this.writes.runIfChanged(() =>
      this.servers.update({ id: serverId, host_key_fingerprint: IsNull() }, { host_key_fingerprint: fingerprint }),
    );
  }
}
