import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Server } from '../servers/server.entity';
import { Service } from './service.entity';

/**
 * One server a service runs on. The schema enforces what `services.server_ids` (a JSON list) once left to the code:
 * a listed server exists, and it cannot be deleted while a service lists it. `position` keeps the order the
 * operator gave, which `server_ids` returns and deploys follow.
 */
@Entity('service_servers')
export class ServiceServer {
  @PrimaryColumn({ type: 'integer' })
  service_id: number;

  @Index()
  @PrimaryColumn({ type: 'integer' })
  server_id: number;

  @Column({ type: 'integer' })
  position: number;

  @ManyToOne(() => Service, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'service_id' })
  service?: Service;

  @ManyToOne(() => Server, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'server_id' })
  server?: Server;
}
