import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';
import type { Role } from './roles';

/** Unique on lower(username); an expression index TypeORM cannot describe, so the migration creates it. */
export const USERNAME_INDEX = 'IDX_users_username_lower';

/** Someone who signs in to the backend. */
@Entity('users')
@Index(USERNAME_INDEX, { synchronize: false })
export class User {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  username: string;

  /** `scrypt$N$r$p$salt$hash` (see PasswordHasher); never leaves the repository layer in a response. */
  @Column({ type: 'varchar', length: 255 })
  password_hash: string;

  @Column({ type: 'varchar', length: 16 })
  role: Role;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  /** Login tokens issued before this instant are rejected (set by password changes). */
  @Column({ type: TIMESTAMP_COLUMN, nullable: true })
  password_changed_at: Date | null;

  @CreateDateColumn({ type: TIMESTAMP_COLUMN })
  created_at: Date;
}
