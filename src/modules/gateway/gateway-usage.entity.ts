import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * What one caller used of one model on one day (UTC), through the /v1 gateway: one row per (day, user, token, model),
 * added to by each call. No foreign keys: usage outlives a revoked token or a deleted user, as bills do.
 */
@Entity('gateway_usage')
@Index(['day', 'user_id', 'token_id', 'model'], { unique: true })
export class GatewayUsage {
  @PrimaryGeneratedColumn()
  id: number;

  /** `YYYY-MM-DD`, UTC. */
  @Column({ type: 'varchar', length: 10 })
  day: string;

  /** The caller; 0 with AUTH_ENABLED=false. */
  @Index()
  @Column({ type: 'integer' })
  user_id: number;

  /** The API token used; 0 for a signed-in session (or no authentication). */
  @Index()
  @Column({ type: 'integer' })
  token_id: number;

  /** The model name the request asked for (an alias stays an alias). */
  @Column({ type: 'varchar', length: 128 })
  model: string;

  /** Calls routed to a model server, answered or not. */
  @Column({ type: 'integer', default: 0 })
  requests: number;

  @Column({ type: 'integer', default: 0 })
  prompt_tokens: number;

  @Column({ type: 'integer', default: 0 })
  completion_tokens: number;

  @Column({ type: 'integer', default: 0 })
  total_tokens: number;
}
