import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, QueryFailedError, Repository } from 'typeorm';
import { isConstraintViolation } from '../../database/constraint-violation';
import { RowsById } from '../../database/rows-by-id';
import { Transactions } from '../../database/transactions.service';
import { SeriesSample } from './series';
import { CardSample, SampleResolution, SampleValues, ServerSample } from './server-sample.entity';

/** The metric history (`server_samples`): raw samples, five-minute averages, and their retention. */
@Injectable()
export class ServerSamplesRepository {
  /**
   * For the two statements of every sample: each server's sample would otherwise be statements of its own on SQLite,
   * its ids written into their text, and a hundred servers' round would push every other prepared statement out.
   */
  private readonly rows: RowsById<ServerSample>;

  constructor(
    @InjectRepository(ServerSample) private readonly samples: Repository<ServerSample>,
    private readonly transactions: Transactions,
  ) {
    this.rows = new RowsById(samples.manager, ServerSample);
  }

  /**
   * Claims a server's raw slot by inserting its row: the new row's id for the one caller (of any instance) whose
   * insert made it, null for the others, which the unique key refused (or a server deleted meanwhile).
   */
  async claimSlot(serverId: number, slot: Date): Promise<number | null> {
    try {
      return await this.rows.insertOne({ server_id: serverId, resolution: 'raw', taken_at: slot });
    } catch (error) {
      if (error instanceof QueryFailedError && isConstraintViolation(error as QueryFailedError<Error>)) return null;
      throw error;
    }
  }

  record(id: number, values: SampleValues): Promise<void> {
    return this.rows.update(id, values);
  }

  /**
   * A server's measured samples of both resolutions with `taken_at` in [from, to), oldest first. Read as plain rows:
   * a day is thousands of samples, and building an entity of each costs more than the query.
   */
  async findRange(serverId: number, from: Date, to: Date): Promise<SeriesSample[]> {
    const takenAt = this.samples.metadata.findColumnWithPropertyName('taken_at')!;
    const driver = this.samples.manager.connection.driver;
    const rows = await this.samples
      .createQueryBuilder('sample')
      .select(['sample.taken_at AS taken_at', 'sample.online AS online', 'sample.cpu_usage AS cpu_usage'])
      .addSelect(['sample.memory_usage AS memory_usage', 'sample.disk_usage AS disk_usage', 'sample.cards AS cards'])
      .where('sample.server_id = :serverId AND sample.online IS NOT NULL', { serverId })
      .andWhere('sample.taken_at >= :from AND sample.taken_at < :to', {
        from: driver.preparePersistentValue(from, takenAt) as unknown,
        to: driver.preparePersistentValue(to, takenAt) as unknown,
      })
      .orderBy('sample.taken_at', 'ASC')
      .getRawMany<Omit<SeriesSample, 'taken_at' | 'cards'> & { taken_at: unknown; cards: string | null }>();
    return rows.map((row) => ({
      ...row,
      taken_at: driver.prepareHydratedValue(row.taken_at, takenAt) as Date,
      cards: row.cards === null ? null : (JSON.parse(row.cards) as CardSample[]),
    }));
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
