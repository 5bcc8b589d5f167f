import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, In, IsNull, LessThan, Not, QueryFailedError, Repository } from 'typeorm';
import { isConstraintViolation } from '../../database/constraint-violation';
import { SINGLE_ROW } from '../../database/save-options';
import { Transactions } from '../../database/transactions.service';
import { SampleResolution, ServerSample } from './server-sample.entity';

export type SampleValues = Pick<ServerSample, 'online' | 'cpu_usage' | 'memory_usage' | 'disk_usage' | 'cards'>;

/** The metric history (`server_samples`): raw samples, five-minute averages, and their retention. */
@Injectable()
export class ServerSamplesRepository {
  constructor(
    @InjectRepository(ServerSample) private readonly samples: Repository<ServerSample>,
    private readonly transactions: Transactions,
  ) {}

  /**
   * Claims a server's raw slot by inserting its row: the new row's id for the one caller (of any instance) whose
   * insert made it, null for the others, which the unique key refused (or a server deleted meanwhile).
   */
  async claimSlot(serverId: number, slot: Date): Promise<number | null> {
    try {
      const row = await this.samples.save(this.samples.create({ server_id: serverId, resolution: 'raw', taken_at: slot }), SINGLE_ROW);
      return row.id;
    } catch (error) {
      if (error instanceof QueryFailedError && isConstraintViolation(error as QueryFailedError<Error>)) return null;
      throw error;
    }
  }

  async record(id: number, values: SampleValues): Promise<void> {
    await this.samples.update({ id }, values);
  }

  /** A server's measured samples of both resolutions with `taken_at` in [from, to), oldest first. */
  findRange(serverId: number, from: Date, to: Date): Promise<ServerSample[]> {
    return this.samples.find({
      where: { server_id: serverId, taken_at: Between(from, new Date(to.getTime() - 1)), online: Not(IsNull()) },
      order: { taken_at: 'ASC' },
    });
  }

  /** The newest measured raw sample of every server that has one. */
  latest(): Promise<ServerSample[]> {
    return this.samples
      .createQueryBuilder('sample')
      .innerJoin(
        (query) =>
          query
            .select('newest.server_id', 'server_id')
            .addSelect('MAX(newest.taken_at)', 'taken_at')
            .from(ServerSample, 'newest')
            .where(`newest.resolution = 'raw' AND newest.online IS NOT NULL`)
            .groupBy('newest.server_id'),
        'latest',
        'latest.server_id = sample.server_id AND latest.taken_at = sample.taken_at',
      )
      .where(`sample.resolution = 'raw'`)
      .orderBy('sample.server_id', 'ASC')
      .getMany();
  }

  /** Raw samples older than `before`, of every server, oldest first: what the next roll-up averages. */
  findRawBefore(before: Date): Promise<ServerSample[]> {
    return this.samples.find({ where: { resolution: 'raw', taken_at: LessThan(before) }, order: { taken_at: 'ASC', id: 'ASC' } });
  }

  /** Replaces raw samples by their buckets' averages, in one transaction: a crash leaves either or the other. */
  async rollUp(buckets: (SampleValues & { server_id: number; taken_at: Date })[], rawIds: number[]): Promise<void> {
    await this.transactions.run(async (manager) => {
      for (const bucket of buckets) {
        await manager
          .createQueryBuilder()
          .insert()
          .into(ServerSample)
          .values({ ...bucket, resolution: '5m' as SampleResolution })
          .orIgnore()
          .execute();
      }
      for (let start = 0; start < rawIds.length; start += 500) {
        await manager.delete(ServerSample, { id: In(rawIds.slice(start, start + 500)) });
      }
    });
  }

  /** Deletes the averages older than `before`. */
  async deleteRolledUpBefore(before: Date): Promise<void> {
    await this.samples.delete({ resolution: '5m', taken_at: LessThan(before) });
  }
}
