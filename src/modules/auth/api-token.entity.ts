import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import type { Role } from './roles';
import { User } from './user.entity';

/** A long-lived bearer token for scripts and OpenAPI clients; only its hash is stored. */
@Entity('api_tokens')
export class ApiToken {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 128 })
  name: string;

  /** SHA-256 of the token, hex: tokens are 256 random bits, so a fast hash is enough and lookups stay indexed. */
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 64 })
  token_hash: string;

  /** At most the owner's role; the owner's current role caps it again at use. */
  @Column({ type: 'varchar', length: 16 })
  role: Role;

  @Index()
  @Column({ type: 'integer' })
  user_id: number;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  expires_at: Date | null;

  /** Gateway (/v1) requests allowed per minute; null: no limit. */
  @Column({ type: 'integer', nullable: true })
  rpm_limit: number | null;

  /** Gateway (/v1) tokens (prompt and completion, as the model servers count them) allowed per minute; null: no limit. */
  @Column({ type: 'integer', nullable: true })
  tpm_limit: number | null;

  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  last_used_at: Date | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
