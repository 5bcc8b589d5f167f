import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import { AcceleratorCard } from '../inventory/entities/accelerator-card.entity';
import { Brand } from '../inventory/entities/brand.entity';

@Entity('servers')
export class Server {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Index()
  @Column({ type: 'integer', nullable: true })
  brand_id: number | null;

  @ManyToOne(() => Brand, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'brand_id' })
  brand?: Brand | null;

  /** The server's accelerator card (`accelerator_cards.id`). */
  @Index()
  @Column({ type: 'integer', nullable: true })
  model_id: number | null;

  @ManyToOne(() => AcceleratorCard, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'model_id' })
  accelerator?: AcceleratorCard | null;

  @Column({ type: 'varchar', length: 255 })
  host_ip: string;

  @Column({ type: 'integer', default: 22 })
  port: number;

  @Column({ type: 'varchar', length: 255 })
  username: string;

  /** `password` or `key`. */
  @Column({ type: 'varchar', length: 16, default: 'password' })
  auth_type: string;

  /** Encrypted at rest (CredentialVault); write-only in the API. */
  @Column({ type: 'text', nullable: true, select: false })
  password: string | null;

  /** Encrypted at rest; write-only in the API. */
  @Column({ type: 'text', nullable: true, select: false })
  private_key: string | null;

  /** Encrypted at rest; write-only in the API. */
  @Column({ type: 'text', nullable: true, select: false })
  passphrase: string | null;

  /** The pinned SSH host key (`SHA256:…`), recorded on first connection. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  host_key_fingerprint: string | null;

  /** Port of the service agent. */
  @Column({ type: 'integer', default: 8888 })
  agent_port: number;

  /** Port of the OpenAI-compatible model server. */
  @Column({ type: 'integer', default: 8000 })
  chat_port: number;

  @Column({ type: 'varchar', length: 16, default: 'offline' })
  status: string;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  last_check: Date | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
