import { InitialSchema1795536000000 } from './1795536000000-initial-schema';
import { SshCredentialsAndTaskRuns1795537900000 } from './1795537900000-ssh-credentials-and-task-runs';
import { TaskScheduling1795540300000 } from './1795540300000-task-scheduling';
import { AuthAndAudit1795557400000 } from './1795557400000-auth-and-audit';
import { CommandProvenance1795600000000 } from './1795600000000-command-provenance';
import { ServiceOperationHistory1796075000000 } from './1796075000000-service-operation-history';
import { ServiceServers1796085753200 } from './1796085753200-service-servers';
import { ServerSamples1796087889495 } from './1796087889495-server-samples';
import { GatewayUsageAndLimits1796096431260 } from './1796096431260-gateway-usage-and-limits';

/** In order of application; explicit so every runtime (ts-node, jest, dist) runs the same list. */
export const MIGRATIONS = [
  InitialSchema1795536000000,
  SshCredentialsAndTaskRuns1795537900000,
  TaskScheduling1795540300000,
  AuthAndAudit1795557400000,
  CommandProvenance1795600000000,
  ServiceOperationHistory1796075000000,
  ServiceServers1796085753200,
  ServerSamples1796087889495,
  GatewayUsageAndLimits1796096431260,
];
