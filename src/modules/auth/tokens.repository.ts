import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { SINGLE_ROW } from '../../database/save-options';
import { ApiToken } from './api-token.entity';
import { RevokedSession } from './revoked-session.entity';

export interface ApiTokenRow extends Omit<ApiToken, 'user' | 'token_hash'> {
  username: string;
}

/** API tokens and the login tokens revoked by logout. */
@Injectable()
export class TokensRepository {
  private readonly tokenWrites: CachedWrites;
  private readonly revocationWrites: CachedWrites;

  constructor(
    @InjectRepository(ApiToken) private readonly tokens: Repository<ApiToken>,
    @InjectRepository(RevokedSession) private readonly revoked: Repository<RevokedSession>,
    private readonly cache: ReadCache,
  ) {
    this.tokenWrites = new CachedWrites(cache, 'api_tokens');
    this.revocationWrites = new CachedWrites(cache, 'revoked_sessions');
  }

  create(fields: Pick<ApiToken, 'name' | 'token_hash' | 'role' | 'user_id' | 'expires_at' | 'rpm_limit' | 'tpm_limit'>): Promise<ApiToken> {
    return this.tokenWrites.run(() => this.tokens.save(this.tokens.create({ ...fields, last_used_at: null }), SINGLE_ROW));
  }

  /** Read on every request that presents an API token, so cached; revocation clears it. */
  findByHash(tokenHash: string): Promise<ApiToken | null> {
    return this.cache.get(`api_tokens:${tokenHash}`, ['api_tokens'], () => this.tokens.findOneBy({ token_hash: tokenHash }));
  }

  findById(id: number): Promise<ApiToken | null> {
    return this.tokens.findOneBy({ id });
  }

  /** A user's tokens, or everyone's when `userId` is undefined; newest first, never the hashes. */
  async list(userId?: number): Promise<ApiTokenRow[]> {
    const query = this.tokens
      .createQueryBuilder('token')
      .innerJoin('token.user', 'user')
      .select(['token.id', 'token.name', 'token.role', 'token.user_id', 'token.expires_at', 'token.last_used_at', 'token.created_at'])
      .addSelect(['token.rpm_limit', 'token.tpm_limit'])
      .addSelect('user.username', 'username')
      .orderBy('token.id', 'DESC');
    if (userId !== undefined) query.where('token.user_id = :userId', { userId });
    const { entities, raw } = await query.getRawAndEntities<{ username: string }>();
    return entities.map((token, index) => ({ ...token, username: raw[index].username }));
  }

  async update(id: number, fields: Partial<Pick<ApiToken, 'name' | 'rpm_limit' | 'tpm_limit'>>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.tokenWrites.run(() => this.tokens.update({ id }, fields));
  }

  async delete(id: number): Promise<void> {
    await this.tokenWrites.run(() => this.tokens.delete({ id }));
  }

  /** Not cached-invalidating: last use is informational and written at most once a minute per token. */
  async touch(id: number, at: Date): Promise<void> {
    await this.tokens.update({ id }, { last_used_at: at });
  }

  async revokeSession(id: string, expiresAt: Date): Promise<void> {
    await this.revocationWrites.run(async () => {
      await this.revoked.delete({ expires_at: LessThan(new Date()) });
      await this.revoked.upsert({ id, expires_at: expiresAt }, ['id']);
    });
  }

  /** The ids of login tokens ended by logout (expired ones are purged as new ones come). */
  async revokedSessionIds(): Promise<ReadonlySet<string>> {
    return this.cache.get(
      'revoked_sessions',
      ['revoked_sessions'],
      async () => new Set((await this.revoked.find({ select: { id: true } })).map(({ id }) => id)),
    );
  }
}
