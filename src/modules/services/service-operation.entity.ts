import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { DeployResult, Service, ServiceOperation } from './service.entity';

/** `running` until every server has answered; then how many of them did what was asked. */
export type OperationOutcome = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

/** One deploy, restart or stop of a service: who started it, what was sent, and how each server answered. */
@Entity('service_operations')
@Index(['service_id', 'started_at'])
export class ServiceOperationRecord {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'integer' })
  service_id: number;

  @ManyToOne(() => Service, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'service_id' })
  service?: Service;

  @Column({ type: 'varchar', length: 16 })
  operation: ServiceOperation;

  /** The user who asked; null when the backend itself started it. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  started_by: string | null;

  @Column({ type: TIMESTAMP_COLUMN })
  started_at: Date;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  finished_at: Date | null;

  /** The deploy command sent to the agents; null for a stop, which sends none. */
  @Column({ type: 'text', nullable: true })
  command: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome: OperationOutcome;

  /** Per-server results, once the operation has ended. */
  @Column({ type: 'simple-json', nullable: true })
  results: DeployResult[] | null;

  /** The service's status the agents reported when it ended. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  status_after: string | null;
}
