import { AuditEvent } from '../modules/audit/audit-event.entity';
import { ApiToken } from '../modules/auth/api-token.entity';
import { RevokedSession } from '../modules/auth/revoked-session.entity';
import { User } from '../modules/auth/user.entity';
import { ChatMessage } from '../modules/chat/chat-message.entity';
import { GatewayUsage } from '../modules/gateway/gateway-usage.entity';
import { AcceleratorCard } from '../modules/inventory/entities/accelerator-card.entity';
import { Brand } from '../modules/inventory/entities/brand.entity';
import { Model } from '../modules/inventory/entities/model.entity';
import { ServerSample } from '../modules/metrics/server-sample.entity';
import { Server } from '../modules/servers/server.entity';
import { ServiceOperationRecord } from '../modules/services/service-operation.entity';
import { Service } from '../modules/services/service.entity';
import { ServiceServer } from '../modules/services/service-server.entity';
import { TaskRun } from '../modules/tasks/task-run.entity';
import { Task } from '../modules/tasks/task.entity';

/** Every table of the schema; listed explicitly so ts-node, jest and the compiled build all see the same set. */
export const ENTITIES = [
  Brand,
  AcceleratorCard,
  Model,
  Server,
  ServerSample,
  Service,
  ServiceServer,
  ServiceOperationRecord,
  ChatMessage,
  Task,
  TaskRun,
  User,
  ApiToken,
  RevokedSession,
  AuditEvent,
  GatewayUsage,
];
