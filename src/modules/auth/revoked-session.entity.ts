import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TIMESTAMP_COLUMN } from '../../database/column-types';

/** A login token ended by logout before it expired; the row can go once the token would have expired anyway. */
@Entity('revoked_sessions')
export class RevokedSession {
  /** The token's `jti`. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: TIMESTAMP_COLUMN })
  expires_at: Date;
}
