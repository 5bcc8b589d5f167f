import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { GatewayUsage } from './gateway-usage.entity';

export type UsageKey = Pick<GatewayUsage, 'day' | 'user_id' | 'token_id' | 'model'>;
export type UsageCounters = Pick<GatewayUsage, 'requests' | 'prompt_tokens' | 'completion_tokens' | 'total_tokens'>;
export type UsageRow = Omit<GatewayUsage, 'id'>;

export interface UsageFilter {
  from: string;
  to: string;
  userId?: number;
  tokenId?: number;
  model?: string;
}

/** Gateway usage per day, caller, token and model (`gateway_usage`). */
@Injectable()
export class GatewayUsageRepository {
  constructor(@InjectRepository(GatewayUsage) private readonly usage: Repository<GatewayUsage>) {}

  /** Adds calls and their tokens to their row, creating the row at first: one statement, safe under concurrency. */
  async add(key: UsageKey, counts: UsageCounters): Promise<void> {
    await this.usage
      .createQueryBuilder()
      .insert()
      .into(GatewayUsage)
      // Nothing reads the row back: without this, TypeORM selects it again after the insert on SQLite.
      .updateEntity(false)
      .values({ ...key, ...counts })
      .onConflict(
        `("day", "user_id", "token_id", "model") DO UPDATE SET ${COUNTERS.map((column) => `"${column}" = gateway_usage."${column}" + excluded."${column}"`).join(', ')}`,
      )
      .execute();
  }

  /** The rows of days `from`..`to` (inclusive) that match, by day, then token and model. */
  find({ from, to, userId, tokenId, model }: UsageFilter): Promise<UsageRow[]> {
    const query = this.usage
      .createQueryBuilder('usage')
      .select(['usage.day', 'usage.user_id', 'usage.token_id', 'usage.model', ...COUNTERS.map((column) => `usage.${column}`)])
      .where('usage.day >= :from AND usage.day <= :to', { from, to })
      .orderBy('usage.day', 'ASC')
      .addOrderBy('usage.token_id', 'ASC')
      .addOrderBy('usage.model', 'ASC');
    if (userId !== undefined) query.andWhere('usage.user_id = :userId', { userId });
    if (tokenId !== undefined) query.andWhere('usage.token_id = :tokenId', { tokenId });
    if (model !== undefined) query.andWhere('usage.model = :model', { model });
    return query.getMany();
  }
}

const COUNTERS = ['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens'] as const;
