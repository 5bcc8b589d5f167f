import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../../database/column-types';
import { Brand } from './brand.entity';

@Entity('accelerator_cards')
export class AcceleratorCard {
  @PrimaryGeneratedColumn()
  id: number;

  @Index()
  @Column({ type: 'integer' })
  brand_id: number;

  @ManyToOne(() => Brand, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'brand_id' })
  brand?: Brand;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'varchar', length: 255 })
  model: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  memory: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  fp8_perf: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  int8_perf: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  bf16_perf: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  fp16_perf: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  fp32_perf: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  interconnect_bandwidth: string | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
