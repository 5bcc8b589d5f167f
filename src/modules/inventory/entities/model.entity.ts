import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../../database/column-types';

/** An AI model in the catalogue (e.g. a 7B chat model); services deploy one. */
@Entity('models')
export class Model {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'varchar', length: 2048, nullable: true })
  logo: string | null;

  /** Free text such as `7B`. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  parameters: string | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
