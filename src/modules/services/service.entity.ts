import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { Model } from '../inventory/entities/model.entity';

export type ServiceOperation = 'deploy' | 'restart' | 'stop';

/** One server's outcome of a deploy, restart (`output`/`error`) or stop (`message`). */
export interface DeployResult {
  server_id: number;
  server_name: string | null;
  server_ip: string | null;
  success: boolean;
  output?: string;
  error?: string;
  message?: string;
}

/** A model-serving deployment on one or more servers. */
@Entity('services')
export class Service {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Index()
  @Column({ type: 'integer' })
  model_id: number;

  @ManyToOne(() => Model, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_id' })
  model?: Model;

  /** The servers it runs on, in order: kept in `service_servers`, filled in by ServicesRepository (not a column). */
  server_ids: number[];

  /** More names the /v1 gateway routes to this service by, besides its model's name (e.g. `gpt-4o-mini`). */
  @Column({ type: 'simple-json', default: '[]' })
  aliases: string[];

  @Column({ type: 'text', nullable: true })
  deploy_command: string | null;

  @Column({ type: 'varchar', length: 16, default: 'offline' })
  deploy_status: string;

  /** The operation `deploying` stands for, and whose results `deploy_result` holds; null before the first. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  deploy_operation: ServiceOperation | null;

  /** Per-server results of the last deploy/restart/stop. */
  @Column({ type: 'simple-json', nullable: true })
  deploy_result: DeployResult[] | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
