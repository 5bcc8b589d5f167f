import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { Server } from '../servers/server.entity';

/** What the last run of a task produced (the contract's `{output, error, success}` and a little more). */
export interface TaskResult {
  output: string;
  error: string;
  success: boolean;
  exit_status?: number | null;
  truncated?: boolean;
}

/** A shell command to run on a server, now or on a schedule. */
@Entity('tasks')
export class Task {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text' })
  command: string;

  /** Username of whoever last set `command` (at creation or by an update), whose command the scheduler runs; null when unknown. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  command_set_by: string | null;

  @Index()
  @Column({ type: 'integer' })
  server_id: number;

  @ManyToOne(() => Server, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'server_id' })
  server?: Server;

  /** `once`, `daily`, `weekly` or `cron`. */
  @Column({ type: 'varchar', length: 16 })
  schedule_type: string;

  /** For `cron`: 5 fields, or 6 with seconds first. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  cron_expression: string | null;

  /** IANA time zone of the schedule; null means SCHEDULER_TIMEZONE. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  timezone: string | null;

  /** For `once`: when to run; null means right after creation. */
  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  run_at: Date | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /** The scheduler's next slot; null when nothing is due. Claimed by a conditional update, so a slot runs once. */
  @Index()
  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  next_run: Date | null;

  @Column({ type: 'integer', default: 3600 })
  timeout_seconds: number;

  /** `pending`, `executing`, `completed` or `failed`. */
  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: string;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  last_run: Date | null;

  /** `{output, error, success}` of the last run. */
  @Column({ type: 'simple-json', nullable: true })
  result: TaskResult | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
