import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { Task } from './task.entity';

/** One execution of a task: its trigger, timing, exit status and (capped) output. */
@Entity('task_runs')
@Index(['task_id', 'started_at'])
export class TaskRun {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'integer' })
  task_id: number;

  @ManyToOne(() => Task, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'task_id' })
  task?: Task;

  /** `manual` or `schedule`. */
  @Column({ type: 'varchar', length: 16 })
  trigger: string;

  /** The slot a scheduled run was for; null for manual runs. */
  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  scheduled_for: Date | null;

  @Column({ type: TIMESTAMP_COLUMN })
  started_at: Date;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  finished_at: Date | null;

  /** `running`, `completed`, `failed`, `timed_out` or `skipped` (a run of the task was still going). */
  @Column({ type: 'varchar', length: 16 })
  status: string;

  @Column({ type: 'integer', nullable: true })
  exit_status: number | null;

  @Column({ type: 'integer', nullable: true })
  duration_ms: number | null;

  @Column({ type: 'text', default: '' })
  output: string;

  @Column({ type: 'text', default: '' })
  error: string;
}
