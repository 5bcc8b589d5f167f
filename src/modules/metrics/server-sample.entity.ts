import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { AcceleratorVendor } from '../servers/accelerators/accelerator-metrics';
import { Server } from '../servers/server.entity';

/** `raw`: one measurement per interval; `5m`: the average of the raw samples of a five-minute bucket, kept longer. */
export type SampleResolution = 'raw' | '5m';

/** One accelerator's values in a sample, in short keys: a sample holds one per card, every interval, for days. */
export interface CardSample {
  /** index */
  i: number;
  /** vendor */
  v: AcceleratorVendor;
  /** name */
  n: string;
  /** utilization % */
  u: number | null;
  /** memory used, MiB */
  mu: number | null;
  /** memory total, MiB */
  mt: number | null;
  /** temperature °C */
  t: number | null;
  /** power W */
  p: number | null;
}

/**
 * A server's metrics at one time. The row is inserted (empty) to claim the slot before measuring, so that several
 * instances sharing the database measure each server once per interval: the unique key lets one insert win.
 */
@Entity('server_samples')
@Index(['server_id', 'resolution', 'taken_at'], { unique: true })
export class ServerSample {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'integer' })
  server_id: number;

  @ManyToOne(() => Server, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'server_id' })
  server?: Server;

  @Column({ type: 'varchar', length: 8 })
  resolution: SampleResolution;

  /** The start of the slot (raw) or bucket (5m). */
  @Column({ type: TIMESTAMP_COLUMN })
  taken_at: Date;

  /** 1 when the server answered, 0 when not; a bucket's share of answered samples; null while being measured. */
  @Column({ type: 'real', nullable: true })
  online: number | null;

  @Column({ type: 'real', nullable: true })
  cpu_usage: number | null;

  @Column({ type: 'real', nullable: true })
  memory_usage: number | null;

  @Column({ type: 'real', nullable: true })
  disk_usage: number | null;

  @Column({ type: 'simple-json', nullable: true })
  cards: CardSample[] | null;
}

/** What one measurement of a server records. */
export type SampleValues = Pick<ServerSample, 'online' | 'cpu_usage' | 'memory_usage' | 'disk_usage' | 'cards'>;
