import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';

/** The filter by user compares lower(username); an expression index TypeORM cannot describe, so the migration creates it. */
export const AUDIT_USERNAME_INDEX = 'IDX_audit_events_username_lower';

/** Who did what, from where: one security-relevant action. Never holds a secret. */
@Entity('audit_events')
@Index(AUDIT_USERNAME_INDEX, { synchronize: false })
export class AuditEvent {
  @PrimaryGeneratedColumn()
  id: number;

  @Index()
  @Column({ type: TIMESTAMP_COLUMN })
  at: Date;

  /** The username (kept as text, so events outlive deleted users); null for an unknown caller. */
  @Index()
  @Column({ type: 'varchar', length: 64, nullable: true })
  username: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** e.g. `auth.login`, `task.execute`, `server.delete`. */
  @Index()
  @Column({ type: 'varchar', length: 64 })
  action: string;

  /** e.g. `server:3`. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  target: string | null;

  /** JSON text with the action's particulars. */
  @Column({ type: 'text', nullable: true })
  detail: string | null;
}
